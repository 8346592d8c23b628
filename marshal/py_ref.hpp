// pybridge/marshal/py_ref.hpp — internal: owns one new reference for the length of a scope,
// so the error paths of the conversion and call code cannot leak. Interpreter thread only.
#pragma once

#include <Python.h>

#include "../gil/python_error.hpp"

namespace pyb {

struct PyRef {
    PyObject *p;
    // Takes `o` (may be null).
    explicit PyRef(PyObject *o) : p(o) {}
    // Takes `o`, the result of a CPython call: null means that call failed, so throw its error.
    PyRef(Python py, PyObject *o) : p(o) {
        if (!p) throw_python_error(py);
    }
    ~PyRef() { Py_XDECREF(p); }
    PyRef(const PyRef &) = delete;
    PyRef &operator=(const PyRef &) = delete;
    // Drops the reference held, takes `o`.
    void reset(PyObject *o) {
        Py_XDECREF(p);
        p = o;
    }
    // Gives the reference to the caller.
    PyObject *release() {
        PyObject *o = p;
        p = nullptr;
        return o;
    }
};

}  // namespace pyb
