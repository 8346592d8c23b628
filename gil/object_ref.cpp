#include "object_ref.hpp"

#include <Python.h>

#include "release_pool.hpp"

namespace pyb {

ObjectRef ObjectRef::steal(Python, PyObject *obj) {
    ObjectRef r;
    if (obj) r.ref_ = std::make_shared<Owner>(obj);
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

ObjectRef::Owner::~Owner() { release_pool::decref(obj); }

}  // namespace pyb
