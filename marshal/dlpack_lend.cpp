#include "dlpack_lend.hpp"

#include <memory>

#include "../gil/python_error.hpp"

namespace pyb::detail {
namespace {

template <class Managed>
struct Lent : PythonExport {
    Managed managed{};
    Tensor::MemoryRef keep;  // the shape and strides below point into it
    static void deleter(Managed *self) {
        auto *lent = static_cast<Lent *>(self->manager_ctx);
        if (lent->give_back) unlink_export(*lent);
        delete lent;
    }
    // At stop (python_exports.hpp): the host memory goes; the descriptor stays for the
    // consumer's deleter, should it ever run.
    static void give_back_memory(PythonExport *self) { static_cast<Lent *>(self)->keep = Tensor::MemoryRef(); }
};

template <class Managed>
Managed *lend(const Tensor &tensor, Borrower borrower) {
    auto lent = std::make_unique<Lent<Managed>>();
    lent->keep = tensor.keep_memory();
    if (borrower == Borrower::Python) {
        lent->give_back = &Lent<Managed>::give_back_memory;
        link_export(*lent);
    }
    Managed &m = lent->managed;
    m.manager_ctx = lent.get();
    m.deleter = &Lent<Managed>::deleter;
    m.dl_tensor = tensor.dl();
    m.dl_tensor.data = tensor.data();
    m.dl_tensor.byte_offset = 0;
    m.dl_tensor.shape = const_cast<std::int64_t *>(tensor.shape().data());
    m.dl_tensor.strides = const_cast<std::int64_t *>(tensor.strides().data());
    return &lent.release()->managed;
}

constexpr const char *kVersioned = "dltensor_versioned", *kLegacy = "dltensor";

template <class Managed>
void capsule_destructor(PyObject *capsule, const char *name) {
    if (!PyCapsule_IsValid(capsule, name)) return;  // consumed (renamed)
    auto *m = static_cast<Managed *>(PyCapsule_GetPointer(capsule, name));
    if (m && m->deleter) m->deleter(m);
}

template <class Managed>
PyObject *make_capsule(Python py, Managed *lent, const char *name, PyCapsule_Destructor destructor) {
    PyObject *capsule = PyCapsule_New(lent, name, destructor);
    if (!capsule) {
        lent->deleter(lent);
        throw_python_error(py);
    }
    return capsule;
}

}  // namespace

DLManagedTensorVersioned *lend_versioned(const Tensor &tensor, std::uint64_t flags, Borrower borrower) {
    DLManagedTensorVersioned *m = lend<DLManagedTensorVersioned>(tensor, borrower);
    m->version = {DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION};
    m->flags = flags;
    return m;
}

DLManagedTensor *lend_legacy(const Tensor &tensor) { return lend<DLManagedTensor>(tensor, Borrower::Python); }

PyObject *versioned_capsule(Python py, DLManagedTensorVersioned *lent) {
    return make_capsule(py, lent, kVersioned,
                        [](PyObject *c) { capsule_destructor<DLManagedTensorVersioned>(c, kVersioned); });
}

PyObject *legacy_capsule(Python py, DLManagedTensor *lent) {
    return make_capsule(py, lent, kLegacy, [](PyObject *c) { capsule_destructor<DLManagedTensor>(c, kLegacy); });
}

}  // namespace pyb::detail
