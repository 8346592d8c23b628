#include "python_error.hpp"

#include "host_error.hpp"

#include <Python.h>

#include <string>

namespace pyb {

PythonError::PythonError(std::string type_name, std::string message, std::string traceback,
                         std::optional<int> exit_code, ObjectRef exception)
    : Error(type_name + ": " + message),
      type_name_(std::move(type_name)),
      message_(std::move(message)),
      traceback_(std::move(traceback)),
      exit_code_(exit_code),
      exception_(std::move(exception)) {}

namespace {

// str(obj) as UTF-8 with undecodable characters escaped; `fallback` if anything fails.
// Clears any error it causes.
std::string safe_text(PyObject *obj, const char *fallback) noexcept {
    std::string out = fallback;
    if (!obj) return out;
    PyObject *s = PyUnicode_Check(obj) ? (Py_INCREF(obj), obj) : PyObject_Str(obj);
    if (s) {
        PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
        if (b) {
            try {
                out.assign(PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b)));
            } catch (...) {
            }
            Py_DECREF(b);
        }
        Py_DECREF(s);
    }
    PyErr_Clear();
    return out;
}

std::string qualified_type_name(PyObject *type) noexcept {
    PyObject *module = PyObject_GetAttrString(type, "__module__");
    PyObject *qualname = PyObject_GetAttrString(type, "__qualname__");
    PyErr_Clear();
    std::string name = qualname ? safe_text(qualname, "<unknown>")
                                : std::string(reinterpret_cast<PyTypeObject *>(type)->tp_name);
    if (module && PyUnicode_Check(module) &&
        PyUnicode_CompareWithASCIIString(module, "builtins") != 0) {
        name = safe_text(module, "?") + "." + name;
    }
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    return name;
}

// "".join(traceback.format_exception(exc)), or "" if formatting fails.
std::string format_traceback(PyObject *exc) noexcept {
    std::string out;
    PyObject *tb_module = PyImport_ImportModule("traceback");
    PyObject *lines = tb_module ? PyObject_CallMethod(tb_module, "format_exception", "O", exc)
                                : nullptr;
    PyObject *empty = lines ? PyUnicode_FromString("") : nullptr;
    PyObject *joined = empty ? PyUnicode_Join(empty, lines) : nullptr;
    if (joined) out = safe_text(joined, "");
    Py_XDECREF(joined);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(tb_module);
    PyErr_Clear();
    return out;
}

// The status `raise SystemExit(code)` exits Python with: None -> 0, an int -> itself,
// anything else -> 1 (Python prints it first).
int system_exit_status(PyObject *exc) noexcept {
    PyObject *code = PyObject_GetAttrString(exc, "code");
    int status = 1;
    if (!code || code == Py_None) {
        status = code ? 0 : 1;
    } else if (PyLong_Check(code)) {
        const long v = PyLong_AsLong(code);
        status = (v == -1 && PyErr_Occurred()) ? 1 : static_cast<int>(v);
    }
    Py_XDECREF(code);
    PyErr_Clear();
    return status;
}

}  // namespace

PythonError fetch_python_error(Python py) noexcept {
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    if (!type) return PythonError("SystemError", "error return without exception set", "");
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb) PyException_SetTraceback(value, tb);

    std::string type_name = qualified_type_name(type);
    std::string message = safe_text(value, "<exception str() failed>");
    std::string traceback = value ? format_traceback(value) : std::string();
    if (traceback.empty()) traceback = type_name + ": " + message + "\n";
    std::optional<int> exit_code;
    if (value && PyErr_GivenExceptionMatches(type, PyExc_SystemExit)) exit_code = system_exit_status(value);

    ObjectRef handle;
    try {
        handle = ObjectRef::steal(py, value);  // takes our reference
        value = nullptr;
    } catch (...) {
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
    return PythonError(std::move(type_name), std::move(message), std::move(traceback), exit_code,
                       std::move(handle));
}

void throw_python_error(Python py) {
    // A host function's C++ exception that crossed Python comes back out as itself.
    if (std::exception_ptr original = take_host_exception(py)) std::rethrow_exception(original);
    throw fetch_python_error(py);
}

}  // namespace pyb
