#include "bridge.hpp"

#include <Python.h>

#include "../gil/python_error.hpp"
#include "../marshal/convert.hpp"
#include "../marshal/py_ref.hpp"
#include "vectorcall.hpp"

namespace pyb {
namespace {

using detail::checked;
using detail::new_str;
using detail::vectorcall;

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

PyObject *main_globals(Python py) {
    PyObject *main = PyImport_AddModule("__main__");  // borrowed
    if (!main) throw_python_error(py);
    return PyModule_GetDict(main);  // borrowed
}

// Runs source in `globals` with `start` (Py_eval_input / Py_file_input); new reference.
PyObject *run_in(Python py, std::string_view source, int start, PyObject *globals) {
    if (!PyDict_Check(globals)) throw Error("pybridge: globals must be a dict");
    if (const auto nul = source.find('\0'); nul != std::string_view::npos) {
        // CPython reads source as a C string: it would silently stop here.
        throw Error("pybridge: Python source contains a NUL byte at offset " + std::to_string(nul));
    }
    const std::string code(source);  // CPython needs a NUL-terminated string
    PyObject *r = PyRun_String(code.c_str(), start, globals, globals);
    if (!r) throw_python_error(py);
    return r;
}

PyObject *run_in_main(Python py, std::string_view source, int start) {
    return run_in(py, source, start, main_globals(py));
}

PyObject *new_globals(Python py) {
    PyObject *d = PyDict_New();
    if (!d || PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) != 0) {
        Py_XDECREF(d);
        throw_python_error(py);
    }
    return d;
}

std::string text_of(Python py, PyObject *s) {
    Py_ssize_t n = 0;
    const char *c = s ? PyUnicode_AsUTF8AndSize(s, &n) : nullptr;
    if (!c) {
        Py_XDECREF(s);
        throw_python_error(py);
    }
    std::string out(c, static_cast<size_t>(n));
    Py_DECREF(s);
    return out;
}


}  // namespace

Bridge::Bridge() : Bridge(config_from_environment()) {}
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

ObjectRef Bridge::new_namespace() {
    return interp_.call([](Python py) { return ObjectRef::steal(py, new_globals(py)); });
}

Value Bridge::eval(std::string_view expression, const ObjectRef &globals) {
    return interp_.call([&](Python py) { return to_value(py, run_in(py, expression, Py_eval_input, checked(py, globals))); });
}

void Bridge::exec(std::string_view source, const ObjectRef &globals) {
    interp_.call([&](Python py) { Py_DECREF(run_in(py, source, Py_file_input, checked(py, globals))); });
}

Value Bridge::eval(std::string_view expression, const Dict &names) {
    return interp_.call([&](Python py) {
        PyRef globals(py, new_globals(py));
        for (const auto &[key, value] : names.items) {
            PyRef k(py, to_python(py, key));
            PyRef v(py, to_python(py, value));
            if (PyDict_SetItem(globals.p, k.p, v.p) != 0) throw_python_error(py);
        }
        return to_value(py, run_in(py, expression, Py_eval_input, globals.p));
    });
}

ObjectRef Bridge::eval_ref(std::string_view expression) {
    return interp_.call([&](Python py) { return ObjectRef::steal(py, run_in_main(py, expression, Py_eval_input)); });
}

void Bridge::setattr(const ObjectRef &obj, std::string_view name, const Value &value) {
    interp_.call([&](Python py) {
        PyRef n(py, new_str(py, name));
        PyRef v(py, to_python(py, value));
        if (PyObject_SetAttr(checked(py, obj), n.p, v.p) != 0) throw_python_error(py);
    });
}

Value Bridge::getitem(const ObjectRef &obj, const Value &key) {
    return interp_.call([&](Python py) {
        PyRef k(py, to_python(py, key));
        PyObject *item = PyObject_GetItem(checked(py, obj), k.p);
        if (!item) throw_python_error(py);
        return to_value(py, item);
    });
}

void Bridge::setitem(const ObjectRef &obj, const Value &key, const Value &value) {
    interp_.call([&](Python py) {
        PyRef k(py, to_python(py, key));
        PyRef v(py, to_python(py, value));
        if (PyObject_SetItem(checked(py, obj), k.p, v.p) != 0) throw_python_error(py);
    });
}

std::int64_t Bridge::len(const ObjectRef &obj) {
    return interp_.call([&](Python py) {
        const Py_ssize_t n = PyObject_Length(checked(py, obj));
        if (n < 0) throw_python_error(py);
        return static_cast<std::int64_t>(n);
    });
}

std::string Bridge::repr(const ObjectRef &obj) {
    return interp_.call([&](Python py) { return text_of(py, PyObject_Repr(checked(py, obj))); });
}

std::string Bridge::str(const ObjectRef &obj) {
    return interp_.call([&](Python py) { return text_of(py, PyObject_Str(checked(py, obj))); });
}

bool Bridge::isinstance(const ObjectRef &obj, const ObjectRef &type) {
    return interp_.call([&](Python py) {
        const int r = PyObject_IsInstance(checked(py, obj), checked(py, type));
        if (r < 0) throw_python_error(py);
        return r == 1;
    });
}

ObjectRef Bridge::iter(const ObjectRef &obj) {
    return interp_.call([&](Python py) {
        PyObject *it = PyObject_GetIter(checked(py, obj));
        if (!it) throw_python_error(py);
        return ObjectRef::steal(py, it);
    });
}

std::optional<Value> Bridge::next(const ObjectRef &iterator) {
    return interp_.call([&](Python py) -> std::optional<Value> {
        PyObject *it = checked(py, iterator);
        if (!PyIter_Check(it)) throw Error("pybridge: next() needs an iterator (use iter() first)");
        PyObject *item = PyIter_Next(it);
        if (!item) {
            if (PyErr_Occurred()) throw_python_error(py);
            return std::nullopt;
        }
        return to_value(py, item);
    });
}

}  // namespace pyb
