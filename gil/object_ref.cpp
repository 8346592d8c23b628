#include "object_ref.hpp"

#include <Python.h>

namespace pyb {
namespace {

// Deferred::run: the Python reference goes (while Python lives), then the owner.
void release_owner(release_pool::Deferred *d, bool python_alive) noexcept {
    auto *o = static_cast<ObjectRef::Owner *>(d);
    if (python_alive) Py_DECREF(o->obj);
    delete o;
}

}  // namespace

ObjectRef ObjectRef::steal(Python, PyObject *obj) {
    ObjectRef r;
    if (obj) {
        try {
            r.ref_ = new Owner;
        } catch (...) {
            Py_DECREF(obj);  // the reference was passed: honour it
            throw;
        }
        r.ref_->obj = obj;
        r.ref_->run = &release_owner;
    }
    return r;
}

ObjectRef ObjectRef::borrow(Python py, PyObject *obj) {
    Py_XINCREF(obj);
    return steal(py, obj);
}

PyObject *ObjectRef::new_reference(Python) const noexcept {
    PyObject *o = ref_ ? ref_->obj : nullptr;
    Py_XINCREF(o);
    return o;
}

// Copies: one count per copy (relaxed increments, as shared_ptr's); the last drop releases
// at once on the interpreter thread, else through release_pool::defer.
static void drop(ObjectRef::Owner *o) noexcept {
    if (o && o->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) release_pool::defer(o);
}

ObjectRef::ObjectRef(const ObjectRef &other) noexcept : ref_(other.ref_) {
    if (ref_) ref_->refs.fetch_add(1, std::memory_order_relaxed);
}
ObjectRef &ObjectRef::operator=(const ObjectRef &other) noexcept {
    if (other.ref_) other.ref_->refs.fetch_add(1, std::memory_order_relaxed);
    Owner *old = ref_;
    ref_ = other.ref_;
    drop(old);
    return *this;
}
ObjectRef &ObjectRef::operator=(ObjectRef &&other) noexcept {
    if (this != &other) {
        Owner *old = ref_;
        ref_ = other.ref_;
        other.ref_ = nullptr;
        drop(old);
    }
    return *this;
}
ObjectRef::~ObjectRef() { drop(ref_); }

}  // namespace pyb
