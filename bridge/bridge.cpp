#include "bridge.hpp"

#include <Python.h>

#include "../gil/python_error.hpp"
#include "../marshal/convert.hpp"

namespace pyb {
namespace {

// Owns the new references of a vectorcall's arguments until the call returns.
struct CallFrame {
    std::vector<PyObject *> argv;  // argv[0] is the PY_VECTORCALL_ARGUMENTS_OFFSET slot
    PyObject *kwnames = nullptr;
    explicit CallFrame(size_t n) : argv(1 + n, nullptr) {}
    ~CallFrame() {
        for (PyObject *o : argv) Py_XDECREF(o);
        Py_XDECREF(kwnames);
    }
};

PyObject *checked(Python py, const ObjectRef &obj) {
    PyObject *o = obj.get(py);
    if (!o) throw Error("pybridge: empty object handle");
    return o;
}

PyObject *new_str(Python py, std::string_view s) {
    PyObject *o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
    if (!o) throw_python_error(py);
    return o;
}

// callable(*args, **kwargs) through vectorcall; returns a new reference.
PyObject *vectorcall(Python py, PyObject *callable, const Args &args, const Kwargs &kwargs) {
    CallFrame frame(args.size() + kwargs.size());
    size_t at = 1;
    for (const Value &a : args) frame.argv[at++] = to_python(py, a);
    if (!kwargs.empty()) {
        frame.kwnames = PyTuple_New(static_cast<Py_ssize_t>(kwargs.size()));
        if (!frame.kwnames) throw_python_error(py);
        for (size_t i = 0; i < kwargs.size(); ++i) {
            PyTuple_SET_ITEM(frame.kwnames, static_cast<Py_ssize_t>(i), new_str(py, kwargs[i].first));
            frame.argv[at++] = to_python(py, kwargs[i].second);
        }
    }
    PyObject *result = PyObject_Vectorcall(callable, frame.argv.data() + 1,
                                           args.size() | PY_VECTORCALL_ARGUMENTS_OFFSET, frame.kwnames);
    if (!result) throw_python_error(py);
    return result;
}

PyObject *get_attr(Python py, PyObject *obj, std::string_view name) {
    PyObject *n = new_str(py, name);
    PyObject *r = PyObject_GetAttr(obj, n);
    Py_DECREF(n);
    if (!r) throw_python_error(py);
    return r;
}

PyObject *call_method_new(Python py, const ObjectRef &obj, std::string_view method,
                          const Args &args, const Kwargs &kwargs) {
    PyObject *fn = get_attr(py, checked(py, obj), method);
    PyObject *r = nullptr;
    try {
        r = vectorcall(py, fn, args, kwargs);
    } catch (...) {
        Py_DECREF(fn);
        throw;
    }
    Py_DECREF(fn);
    return r;
}

Value to_value(Python py, PyObject *owned) {
    ObjectRef keep = ObjectRef::steal(py, owned);  // released even if conversion throws
    return from_python(py, owned);
}

// Runs source in __main__'s namespace with `start` (Py_eval_input / Py_file_input).
PyObject *run_in_main(Python py, std::string_view source, int start) {
    PyObject *main = PyImport_AddModule("__main__");  // borrowed
    if (!main) throw_python_error(py);
    PyObject *globals = PyModule_GetDict(main);  // borrowed
    const std::string code(source);              // CPython needs a NUL-terminated string
    PyObject *r = PyRun_String(code.c_str(), start, globals, globals);
    if (!r) throw_python_error(py);
    return r;
}

}  // namespace

Bridge::Bridge(InterpreterConfig config) : interp_(std::move(config)) {}

ObjectRef Bridge::import(std::string_view module) {
    return interp_.call([&](Python py) {
        PyObject *name = new_str(py, module);
        PyObject *m = PyImport_Import(name);
        Py_DECREF(name);
        if (!m) throw_python_error(py);
        return ObjectRef::steal(py, m);
    });
}

Value Bridge::getattr(const ObjectRef &obj, std::string_view name) {
    return interp_.call([&](Python py) { return to_value(py, get_attr(py, checked(py, obj), name)); });
}

ObjectRef Bridge::getattr_ref(const ObjectRef &obj, std::string_view name) {
    return interp_.call([&](Python py) { return ObjectRef::steal(py, get_attr(py, checked(py, obj), name)); });
}

Value Bridge::call(const ObjectRef &callable, const Args &args, const Kwargs &kwargs) {
    return interp_.call([&](Python py) { return to_value(py, vectorcall(py, checked(py, callable), args, kwargs)); });
}

ObjectRef Bridge::call_ref(const ObjectRef &callable, const Args &args, const Kwargs &kwargs) {
    return interp_.call(
        [&](Python py) { return ObjectRef::steal(py, vectorcall(py, checked(py, callable), args, kwargs)); });
}

Value Bridge::call_method(const ObjectRef &obj, std::string_view method, const Args &args,
                          const Kwargs &kwargs) {
    return interp_.call([&](Python py) { return to_value(py, call_method_new(py, obj, method, args, kwargs)); });
}

ObjectRef Bridge::call_method_ref(const ObjectRef &obj, std::string_view method, const Args &args,
                                  const Kwargs &kwargs) {
    return interp_.call(
        [&](Python py) { return ObjectRef::steal(py, call_method_new(py, obj, method, args, kwargs)); });
}

Future<Value> Bridge::call_method_async(ObjectRef obj, std::string method, Args args, Kwargs kwargs) {
    return interp_.submit([obj = std::move(obj), method = std::move(method), args = std::move(args),
                           kwargs = std::move(kwargs)](Python py) {
        return to_value(py, call_method_new(py, obj, method, args, kwargs));
    });
}

Value Bridge::eval(std::string_view expression) {
    return interp_.call([&](Python py) { return to_value(py, run_in_main(py, expression, Py_eval_input)); });
}

void Bridge::exec(std::string_view source) {
    interp_.call([&](Python py) { Py_DECREF(run_in_main(py, source, Py_file_input)); });
}

}  // namespace pyb
