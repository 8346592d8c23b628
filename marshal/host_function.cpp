#include "host_function.hpp"

#include <Python.h>

#include "../gil/host_error.hpp"
#include "../gil/python_error.hpp"
#include "../gil/interpreter.hpp"
#include "convert.hpp"

namespace pyb {
namespace {

constexpr const char *kCapsuleName = "pybridge.host_function";

// What the capsule (the callable's `self`) owns: the function, and the method definition
// that gives the Python callable its name. The callable holds the capsule, so both live
// as long as the callable.
struct Held {
    std::shared_ptr<const HostFunction> fn;
    PyMethodDef def;
};

const std::shared_ptr<const HostFunction> &function_of(PyObject *capsule) {
    return static_cast<Held *>(PyCapsule_GetPointer(capsule, kCapsuleName))->fn;
}

void free_function(PyObject *capsule) { delete static_cast<Held *>(PyCapsule_GetPointer(capsule, kCapsuleName)); }

PyObject *trampoline(PyObject *self, PyObject *args, PyObject *kwargs) {
    if (!Interpreter::on_interpreter_thread()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "pybridge: host functions can only be called from the interpreter thread");
        return nullptr;
    }
    const Python py = Python::assume_interpreter_thread();
    try {
        const auto &fn = function_of(self);
        Args positional;
        positional.reserve(static_cast<size_t>(PyTuple_GET_SIZE(args)));
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); ++i) positional.push_back(from_python(py, PyTuple_GET_ITEM(args, i)));
        Kwargs keywords;
        if (kwargs) {
            Py_ssize_t pos = 0;
            PyObject *key = nullptr, *value = nullptr;
            while (PyDict_Next(kwargs, &pos, &key, &value)) {
                keywords.emplace_back(from_python(py, key).as_str(), from_python(py, value));
            }
        }
        return to_python(py, (*fn)(positional, keywords));
    } catch (const PythonError &e) {
        // A nested Python failure: re-raise the original exception object, not a copy.
        if (PyObject *exc = e.exception().get(py)) {
            PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc)), exc);
            return nullptr;
        }
        raise_host_exception(py, std::current_exception());
        return nullptr;
    } catch (...) {
        raise_host_exception(py, std::current_exception());
        return nullptr;
    }
}

const PyCFunction kTrampoline = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(trampoline));

}  // namespace

PyObject *host_function_to_python(Python py, const std::shared_ptr<const HostFunction> &fn) {
    auto *held = new Held{fn, {fn->name().c_str(), kTrampoline, METH_VARARGS | METH_KEYWORDS,
                               "A host (C++) function exposed to Python by pybridge."}};
    PyObject *capsule = PyCapsule_New(held, kCapsuleName, free_function);
    if (!capsule) {
        delete held;
        throw_python_error(py);
    }
    PyObject *callable = PyCFunction_NewEx(&held->def, capsule, nullptr);
    Py_DECREF(capsule);
    if (!callable) throw_python_error(py);
    return callable;
}

std::shared_ptr<const HostFunction> host_function_from_python(Python, PyObject *obj) noexcept {
    if (!PyCFunction_Check(obj) || PyCFunction_GET_FUNCTION(obj) != kTrampoline) return nullptr;
    PyObject *self = PyCFunction_GET_SELF(obj);
    if (!self || !PyCapsule_IsValid(self, kCapsuleName)) return nullptr;
    return function_of(self);
}

}  // namespace pyb
