#include "native_module.hpp"

#include <Python.h>

namespace pyb {

void publish_native_type(const char *name, PyObject *type) noexcept {
    PyObject *modules = PyImport_GetModuleDict();  // borrowed
    PyObject *module = PyDict_GetItemString(modules, "pybridge._native");  // borrowed
    if (!module) {
        module = PyModule_New("pybridge._native");
        if (!module || PyDict_SetItemString(modules, "pybridge._native", module) != 0) {
            Py_XDECREF(module);
            PyErr_Clear();
            return;
        }
        Py_DECREF(module);  // sys.modules keeps it
    }
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, type) != 0) {
        Py_DECREF(type);
        PyErr_Clear();
    }
}

}  // namespace pyb
