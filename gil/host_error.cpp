#include "host_error.hpp"

#include <Python.h>

#include <string>

#include "native_module.hpp"

namespace pyb {
namespace {

constexpr const char *kCapsuleName = "pybridge.host_exception";
constexpr const char *kAttribute = "__pybridge_exception__";
PyObject *g_host_error = nullptr;  // pybridge.HostError, created once, never freed

PyObject *host_error_type() {
    if (!g_host_error) {
        g_host_error = PyErr_NewExceptionWithDoc(
            "pybridge.HostError", "A C++ exception thrown by a host function, on its way through Python.",
            PyExc_Exception, nullptr);
        if (g_host_error) publish_native_type("HostError", g_host_error);
    }
    return g_host_error;
}

void free_exception_ptr(PyObject *capsule) {
    delete static_cast<std::exception_ptr *>(PyCapsule_GetPointer(capsule, kCapsuleName));
}

std::string describe(std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception &e) {
        return e.what();
    } catch (...) {
        return "unknown C++ exception";
    }
}

}  // namespace

void create_host_error_type(Python) noexcept {
    if (!host_error_type()) PyErr_Clear();
}

void raise_host_exception(Python, std::exception_ptr error) noexcept {
    PyObject *type = host_error_type();
    if (!type) return;  // the error from creating the type stays set
    PyObject *message = nullptr, *exc = nullptr, *capsule = nullptr;
    try {
        const std::string text = describe(error);
        message = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "backslashreplace");
        exc = message ? PyObject_CallOneArg(type, message) : nullptr;
        auto *held = new std::exception_ptr(error);
        capsule = PyCapsule_New(held, kCapsuleName, free_exception_ptr);
        if (!capsule) delete held;
    } catch (...) {
    }
    if (exc && capsule && PyObject_SetAttrString(exc, kAttribute, capsule) == 0) {
        PyErr_SetObject(type, exc);
    } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_RuntimeError, "pybridge: a host function failed (and its error could not be kept)");
    }
    Py_XDECREF(capsule);
    Py_XDECREF(exc);
    Py_XDECREF(message);
}

std::exception_ptr take_host_exception(Python) noexcept {
    if (!g_host_error || !PyErr_ExceptionMatches(g_host_error)) return nullptr;
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    std::exception_ptr original;
    PyObject *capsule = value ? PyObject_GetAttrString(value, kAttribute) : nullptr;
    if (capsule && PyCapsule_IsValid(capsule, kCapsuleName)) {
        original = *static_cast<std::exception_ptr *>(PyCapsule_GetPointer(capsule, kCapsuleName));
    }
    Py_XDECREF(capsule);
    if (original) {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        PyErr_Clear();
        return original;
    }
    PyErr_Clear();
    PyErr_Restore(type, value, tb);  // not ours after all: leave it as it was
    return nullptr;
}

}  // namespace pyb
