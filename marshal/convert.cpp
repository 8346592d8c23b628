#include "convert.hpp"

#include "../gil/python_error.hpp"
#include "tensor_python.hpp"

namespace pyb {
namespace {

// Owns one new reference until released; keeps the error paths below leak-free.
struct Ref {
    PyObject *p;
    explicit Ref(PyObject *o) : p(o) {}
    ~Ref() { Py_XDECREF(p); }
    Ref(const Ref &) = delete;
    Ref &operator=(const Ref &) = delete;
    PyObject *release() {
        PyObject *o = p;
        p = nullptr;
        return o;
    }
};

void check_depth(int depth) {
    if (depth > kMaxDepth) {
        throw Error("pybridge: value nested deeper than " + std::to_string(kMaxDepth) +
                    " levels (a cycle, or data too deep to convert)");
    }
}

PyObject *to_py(Python py, const Value &v, int depth);

template <class SetItem>
PyObject *sequence_to_py(Python py, const std::vector<Value> &items, PyObject *seq, SetItem set,
                         int depth) {
    if (!seq) throw_python_error(py);
    Ref out(seq);
    for (size_t i = 0; i < items.size(); ++i) {
        set(seq, static_cast<Py_ssize_t>(i), to_py(py, items[i], depth + 1));  // steals
    }
    return out.release();
}

PyObject *to_py(Python py, const Value &v, int depth) {
    check_depth(depth);
    PyObject *r = nullptr;
    switch (v.kind()) {
        case Value::Kind::None: Py_RETURN_NONE;
        case Value::Kind::Bool: return PyBool_FromLong(v.as_bool());
        case Value::Kind::Int: r = PyLong_FromLongLong(v.as_int()); break;
        case Value::Kind::Float: r = PyFloat_FromDouble(v.as_float()); break;
        case Value::Kind::Str: {
            const std::string &s = v.as_str();
            r = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
            break;
        }
        case Value::Kind::Bytes: {
            const std::string &b = v.as_bytes().data;
            r = PyBytes_FromStringAndSize(b.data(), static_cast<Py_ssize_t>(b.size()));
            break;
        }
        case Value::Kind::List: {
            const auto &items = v.as_list().items;
            return sequence_to_py(py, items, PyList_New(static_cast<Py_ssize_t>(items.size())),
                                  [](PyObject *s, Py_ssize_t i, PyObject *o) { PyList_SET_ITEM(s, i, o); },
                                  depth);
        }
        case Value::Kind::Tuple: {
            const auto &items = v.as_tuple().items;
            return sequence_to_py(py, items, PyTuple_New(static_cast<Py_ssize_t>(items.size())),
                                  [](PyObject *s, Py_ssize_t i, PyObject *o) { PyTuple_SET_ITEM(s, i, o); },
                                  depth);
        }
        case Value::Kind::Dict: {
            Ref dict(PyDict_New());
            if (!dict.p) throw_python_error(py);
            for (const auto &[key, value] : v.as_dict().items) {
                Ref k(to_py(py, key, depth + 1));
                Ref val(to_py(py, value, depth + 1));
                if (PyDict_SetItem(dict.p, k.p, val.p) != 0) throw_python_error(py);
            }
            return dict.release();
        }
        case Value::Kind::Tensor: return tensor_to_python(py, v.as_tensor());
        case Value::Kind::Object: {
            r = v.as_object().new_reference(py);
            if (!r) throw Error("pybridge: empty object handle");
            return r;
        }
    }
    if (!r) throw_python_error(py);
    return r;
}

Value from_py(Python py, PyObject *o, int depth);

std::vector<Value> items_from_py(Python py, PyObject *const *items, Py_ssize_t n, int depth) {
    std::vector<Value> out;
    out.reserve(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) out.push_back(from_py(py, items[i], depth + 1));
    return out;
}

Value from_py(Python py, PyObject *o, int depth) {
    check_depth(depth);
    if (o == Py_None) return Value();
    if (o == Py_True) return Value(true);
    if (o == Py_False) return Value(false);
    if (PyLong_CheckExact(o)) {
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow) throw Error("pybridge: Python int does not fit in int64");
        if (i == -1 && PyErr_Occurred()) throw_python_error(py);
        return Value(static_cast<std::int64_t>(i));
    }
    if (PyFloat_CheckExact(o)) return Value(PyFloat_AS_DOUBLE(o));
    if (PyUnicode_CheckExact(o)) {
        Py_ssize_t n = 0;
        const char *s = PyUnicode_AsUTF8AndSize(o, &n);
        if (!s) throw_python_error(py);
        return Value(std::string(s, static_cast<size_t>(n)));
    }
    if (PyBytes_CheckExact(o)) {
        return Value(Bytes{std::string(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)))});
    }
    if (PyByteArray_CheckExact(o)) {
        return Value(Bytes{std::string(PyByteArray_AS_STRING(o), static_cast<size_t>(PyByteArray_GET_SIZE(o)))});
    }
    if (PyList_CheckExact(o)) {
        // The size is re-read each step, so a list changed meanwhile is never over-read.
        std::vector<Value> out;
        out.reserve(static_cast<size_t>(PyList_GET_SIZE(o)));
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(o); ++i)
            out.push_back(from_py(py, PyList_GET_ITEM(o, i), depth + 1));
        return Value(List{std::move(out)});
    }
    if (PyTuple_CheckExact(o)) {
        return Value(Tuple{items_from_py(py, &PyTuple_GET_ITEM(o, 0), PyTuple_GET_SIZE(o), depth)});
    }
    if (PyDict_CheckExact(o)) {
        Dict d;
        d.items.reserve(static_cast<size_t>(PyDict_GET_SIZE(o)));
        Py_ssize_t pos = 0;
        PyObject *k = nullptr, *val = nullptr;
        while (PyDict_Next(o, &pos, &k, &val)) {
            d.items.emplace_back(from_py(py, k, depth + 1), from_py(py, val, depth + 1));
        }
        return Value(std::move(d));
    }
    if (is_torch_tensor(py, o)) return Value(tensor_from_python(py, o));
    return Value(ObjectRef::borrow(py, o));
}

}  // namespace

PyObject *to_python(Python py, const Value &value) { return to_py(py, value, 0); }

Value from_python(Python py, PyObject *obj) {
    if (!obj) throw Error("pybridge: from_python given a null object");
    return from_py(py, obj, 0);
}

}  // namespace pyb
