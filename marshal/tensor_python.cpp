#include "tensor_python.hpp"

#include <memory>

#include "../gil/python_error.hpp"

namespace pyb {
namespace {

constexpr const char *kVersionedName = "dltensor_versioned";
constexpr const char *kUsedVersionedName = "used_dltensor_versioned";

// torch entry points, looked up once. Strong references, never released: the interpreter
// is started once per process and outlives every call.
struct TorchApi {
    PyObject *tensor_type = nullptr;          // torch.Tensor
    PyObject *from_dlpack = nullptr;          // torch._C._from_dlpack(capsule)
    PyObject *to_dlpack_versioned = nullptr;  // torch._C._to_dlpack_versioned(tensor)
    PyObject *is_conj = nullptr;              // torch.Tensor.is_conj, unbound: one vectorcall
    PyObject *is_neg = nullptr;               // torch.Tensor.is_neg
    PyObject *requires_grad = nullptr;        // "requires_grad", interned
};
TorchApi g_torch;

const TorchApi &torch_api(Python py) {
    if (g_torch.tensor_type) return g_torch;
    PyObject *torch = PyImport_ImportModule("torch");
    if (!torch) throw_python_error(py);
    PyObject *c = PyObject_GetAttrString(torch, "_C");
    TorchApi api;
    api.tensor_type = PyObject_GetAttrString(torch, "Tensor");
    api.from_dlpack = c ? PyObject_GetAttrString(c, "_from_dlpack") : nullptr;
    api.to_dlpack_versioned = c ? PyObject_GetAttrString(c, "_to_dlpack_versioned") : nullptr;
    api.is_conj = api.tensor_type ? PyObject_GetAttrString(api.tensor_type, "is_conj") : nullptr;
    api.is_neg = api.tensor_type ? PyObject_GetAttrString(api.tensor_type, "is_neg") : nullptr;
    api.requires_grad = PyUnicode_InternFromString("requires_grad");
    Py_XDECREF(c);
    Py_DECREF(torch);
    if (!api.tensor_type || !api.from_dlpack || !api.to_dlpack_versioned || !api.is_conj || !api.is_neg ||
        !api.requires_grad) {
        for (PyObject *o : {api.tensor_type, api.from_dlpack, api.to_dlpack_versioned, api.is_conj, api.is_neg,
                            api.requires_grad})
            Py_XDECREF(o);
        throw_python_error(py);
    }
    g_torch = api;
    return g_torch;
}

// A DLManagedTensorVersioned lent to Python: keeps the host tensor alive until torch
// calls the deleter (on whatever thread drops the torch tensor).
struct Lent {
    DLManagedTensorVersioned managed{};
    std::shared_ptr<Tensor::Owner> keep;
    static void deleter(DLManagedTensorVersioned *self) {
        delete static_cast<Lent *>(self->manager_ctx);
    }
};

// Runs when the capsule dies; if nobody took the tensor, it is still ours to free.
void capsule_destructor(PyObject *capsule) {
    if (!PyCapsule_IsValid(capsule, kVersionedName)) return;  // consumed (renamed)
    auto *m = static_cast<DLManagedTensorVersioned *>(PyCapsule_GetPointer(capsule, kVersionedName));
    if (m && m->deleter) m->deleter(m);
}

}  // namespace

PyObject *tensor_to_python(Python py, const Tensor &tensor) {
    const TorchApi &torch = torch_api(py);
    const DLTensor &src = tensor.dl();

    auto lent = std::make_unique<Lent>();
    lent->keep = tensor.owner();
    DLManagedTensorVersioned &m = lent->managed;
    m.version = {DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION};
    m.manager_ctx = lent.get();
    m.deleter = &Lent::deleter;
    m.flags = tensor.read_only() ? DLPACK_FLAG_BITMASK_READ_ONLY : 0;
    m.dl_tensor = src;
    m.dl_tensor.data = tensor.data();  // byte_offset folded in: consumers differ on honouring it
    m.dl_tensor.byte_offset = 0;
    m.dl_tensor.shape = const_cast<std::int64_t *>(tensor.shape().data());
    m.dl_tensor.strides = const_cast<std::int64_t *>(tensor.strides().data());

    PyObject *capsule = PyCapsule_New(&m, kVersionedName, capsule_destructor);
    if (!capsule) throw_python_error(py);
    lent.release();  // the capsule (or, once consumed, torch) owns it now
    PyObject *result = PyObject_CallOneArg(torch.from_dlpack, capsule);
    Py_DECREF(capsule);
    if (!result) throw_python_error(py);
    return result;
}

bool is_torch_tensor(Python py, PyObject *obj) {
    if (!g_torch.tensor_type) {
        // No torch import just to look: if torch is not loaded, obj cannot be a tensor.
        PyObject *modules = PyImport_GetModuleDict();
        if (!PyDict_GetItemString(modules, "torch")) return false;
        torch_api(py);
    }
    const int r = PyObject_IsInstance(obj, g_torch.tensor_type);
    if (r < 0) throw_python_error(py);
    return r == 1;
}

namespace {

// Calls tensor.<method>() and replaces `tensor` with the result (a new reference).
bool apply(PyObject *&tensor, const char *method) {
    PyObject *r = PyObject_CallMethod(tensor, method, nullptr);
    Py_DECREF(tensor);
    tensor = r;
    return r != nullptr;
}

// A new reference to a flag's value as a bool: 1, 0, or -1 on error.
int truth(PyObject *v) {
    if (!v) return -1;
    const int r = v == Py_True ? 1 : v == Py_False ? 0 : PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

}  // namespace

Tensor tensor_from_python(Python py, PyObject *obj) {
    PyObject *capsule = try_export_tensor(py, obj);
    if (!capsule) throw_python_error(py);
    return adopt_exported(py, capsule);
}

PyObject *try_export_tensor(Python py, PyObject *obj) {
    const TorchApi &torch = torch_api(py);
    PyObject *tensor = obj;
    Py_INCREF(tensor);
    // The view is data only: autograd is dropped (detach), and lazily conjugated or negated
    // views are materialized (a copy), which DLPack cannot describe.
    const int grad = truth(PyObject_GetAttr(tensor, torch.requires_grad));
    const int conj = grad < 0 ? -1 : truth(PyObject_CallOneArg(torch.is_conj, tensor));
    const int neg = conj < 0 ? -1 : truth(PyObject_CallOneArg(torch.is_neg, tensor));
    if (grad < 0 || conj < 0 || neg < 0 || (grad && !apply(tensor, "detach")) ||
        (conj && !apply(tensor, "resolve_conj")) || (neg && !apply(tensor, "resolve_neg"))) {
        Py_XDECREF(tensor);
        return nullptr;
    }
    PyObject *capsule = PyObject_CallOneArg(torch.to_dlpack_versioned, tensor);
    Py_DECREF(tensor);
    return capsule;
}

Tensor adopt_exported(Python py, PyObject *capsule) {
    auto *m = static_cast<DLManagedTensorVersioned *>(PyCapsule_GetPointer(capsule, kVersionedName));
    if (!m || PyCapsule_SetName(capsule, kUsedVersionedName) != 0) {
        Py_DECREF(capsule);
        throw_python_error(py);
    }
    Py_DECREF(capsule);  // renamed: its destructor no longer frees the tensor
    if (m->version.major != DLPACK_MAJOR_VERSION) {
        // Spec: a consumer must not read a tensor of another major version, only free it.
        m->deleter(m);
        throw Error("pybridge: torch produced a DLPack " + std::to_string(m->version.major) + "." +
                    std::to_string(m->version.minor) + " tensor; this build reads DLPack " +
                    std::to_string(DLPACK_MAJOR_VERSION) + ".x");
    }
    return Tensor::adopt(m, /*deleter_needs_gil=*/true);
}

}  // namespace pyb
