#include "convert.hpp"

#include "../gil/python_error.hpp"
#include "host_function.hpp"
#include "py_ref.hpp"
#include "tensor_python.hpp"

#include <cstring>
#include <optional>

namespace pyb {
namespace {


void check_depth(int depth) {
    if (depth > kMaxDepth) {
        throw Error("pybridge: value nested deeper than " + std::to_string(kMaxDepth) +
                    " levels (a cycle, or data too deep to convert)");
    }
}

// pybridge.Symbol, looked up once (strong reference, never released). `import_if_needed`:
// import the pybridge package; otherwise only find it if it was imported already.
PyObject *g_symbol_type = nullptr;
PyObject *symbol_type(Python py, bool import_if_needed) {
    if (g_symbol_type) return g_symbol_type;
    PyObject *module = nullptr;
    if (import_if_needed) {
        module = PyImport_ImportModule("pybridge");
        if (!module) throw_python_error(py);
    } else {
        module = PyDict_GetItemString(PyImport_GetModuleDict(), "pybridge");  // borrowed
        if (!module) return nullptr;
        Py_INCREF(module);
    }
    g_symbol_type = PyObject_GetAttrString(module, "Symbol");
    Py_DECREF(module);
    if (!g_symbol_type) throw_python_error(py);
    return g_symbol_type;
}

PyObject *bigint_to_py(Python py, const BigInt &b) {
    PyRef bytes(PyBytes_FromStringAndSize(reinterpret_cast<const char *>(b.magnitude.data()),
                                        static_cast<Py_ssize_t>(b.magnitude.size())));
    if (!bytes.p) throw_python_error(py);
    PyRef value(PyObject_CallMethod(reinterpret_cast<PyObject *>(&PyLong_Type), "from_bytes", "Os", bytes.p, "little"));
    if (!value.p) throw_python_error(py);
    if (!b.negative) return value.release();
    PyObject *neg = PyNumber_Negative(value.p);
    if (!neg) throw_python_error(py);
    return neg;
}

Value bigint_from_py(Python py, PyObject *o) {
    BigInt b;
    b.negative = _PyLong_Sign(o) < 0;
    PyRef magnitude(PyNumber_Absolute(o));
    PyRef bits(magnitude.p ? PyObject_CallMethod(magnitude.p, "bit_length", nullptr) : nullptr);
    if (!bits.p) throw_python_error(py);
    const long nbytes = (PyLong_AsLong(bits.p) + 7) / 8;
    PyRef bytes(PyObject_CallMethod(magnitude.p, "to_bytes", "ls", nbytes, "little"));
    if (!bytes.p) throw_python_error(py);
    const auto *data = reinterpret_cast<const std::uint8_t *>(PyBytes_AS_STRING(bytes.p));
    b.magnitude.assign(data, data + PyBytes_GET_SIZE(bytes.p));
    return Value(std::move(b));
}

PyObject *set_to_py(Python py, const std::vector<Value> &items, PyObject *set, int depth);

PyObject *to_py(Python py, const Value &v, int depth);

template <class SetItem>
PyObject *sequence_to_py(Python py, const std::vector<Value> &items, PyObject *seq, SetItem set,
                         int depth) {
    if (!seq) throw_python_error(py);
    PyRef out(seq);
    for (size_t i = 0; i < items.size(); ++i) {
        set(seq, static_cast<Py_ssize_t>(i), to_py(py, items[i], depth + 1));  // steals
    }
    return out.release();
}

// A packed list: one tight loop, no per-item dispatch.
template <class T, class Make>
PyObject *packed_to_py(Python py, const std::vector<T> &items, Make make) {
    PyRef out(PyList_New(static_cast<Py_ssize_t>(items.size())));
    if (!out.p) throw_python_error(py);
    for (size_t i = 0; i < items.size(); ++i) {
        PyObject *o = make(items[i]);
        if (!o) throw_python_error(py);
        PyList_SET_ITEM(out.p, static_cast<Py_ssize_t>(i), o);
    }
    return out.release();
}

PyObject *to_py(Python py, const Value &v, int depth) {
    // Fast path for the scalars that fill big containers.
    if (const double *d = v.get_if<double>()) {
        PyObject *f = PyFloat_FromDouble(*d);
        if (!f) throw_python_error(py);
        return f;
    }
    if (const std::int64_t *i = v.get_if<std::int64_t>()) {
        PyObject *l = PyLong_FromLongLong(*i);
        if (!l) throw_python_error(py);
        return l;
    }
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
        case Value::Kind::FloatList: return packed_to_py(py, v.as_float_list().items, PyFloat_FromDouble);
        case Value::Kind::IntList:
            return packed_to_py(py, v.as_int_list().items,
                                [](std::int64_t i) { return PyLong_FromLongLong(static_cast<long long>(i)); });
        case Value::Kind::Tuple: {
            const auto &items = v.as_tuple().items;
            return sequence_to_py(py, items, PyTuple_New(static_cast<Py_ssize_t>(items.size())),
                                  [](PyObject *s, Py_ssize_t i, PyObject *o) { PyTuple_SET_ITEM(s, i, o); },
                                  depth);
        }
        case Value::Kind::Dict: {
            PyRef dict(PyDict_New());
            if (!dict.p) throw_python_error(py);
            for (const auto &[key, value] : v.as_dict().items) {
                PyRef k(to_py(py, key, depth + 1));
                PyRef val(to_py(py, value, depth + 1));
                if (PyDict_SetItem(dict.p, k.p, val.p) != 0) throw_python_error(py);
            }
            return dict.release();
        }
        case Value::Kind::Tensor: return tensor_to_python(py, v.as_tensor());
        case Value::Kind::BigInt: return bigint_to_py(py, v.as_bigint());
        case Value::Kind::Set: return set_to_py(py, v.as_set().items, PySet_New(nullptr), depth);
        case Value::Kind::FrozenSet:
            return set_to_py(py, v.as_frozenset().items, PyFrozenSet_New(nullptr), depth);
        case Value::Kind::Symbol: {
            const std::string &name = v.as_symbol().name;
            PyRef str(PyUnicode_DecodeUTF8(name.data(), static_cast<Py_ssize_t>(name.size()), "strict"));
            if (!str.p) throw_python_error(py);
            r = PyObject_CallOneArg(symbol_type(py, true), str.p);
            break;
        }
        case Value::Kind::Function: return host_function_to_python(py, v.as_function());
        case Value::Kind::Object: {
            r = v.as_object().new_reference(py);
            if (!r) throw Error("pybridge: empty object handle");
            return r;
        }
    }
    if (!r) throw_python_error(py);
    return r;
}

PyObject *set_to_py(Python py, const std::vector<Value> &items, PyObject *set, int depth) {
    if (!set) throw_python_error(py);
    PyRef out(set);
    for (const Value &item : items) {
        PyRef o(to_py(py, item, depth + 1));
        if (PySet_Add(set, o.p) != 0) throw_python_error(py);
    }
    return out.release();
}

// The containers being converted, outermost first, with where we are in each: finds a
// container that contains itself and names the path to it.
struct Frame {
    PyObject *container;
    Py_ssize_t index;  // list/tuple position, or -1
    PyObject *key;     // dict key, or null
};
using Path = std::vector<Frame>;

std::string render_path(const Path &path, size_t upto) {
    std::string out = "value";
    for (size_t i = 0; i < upto; ++i) {
        if (path[i].key) {
            PyObject *r = PyObject_Repr(path[i].key);
            const char *s = r ? PyUnicode_AsUTF8(r) : nullptr;
            out += std::string("[") + (s ? s : "?") + "]";
            Py_XDECREF(r);
            PyErr_Clear();
        } else {
            out += "[" + std::to_string(path[i].index) + "]";
        }
    }
    return out;
}

void check_cycle(const Path &path, PyObject *o) {
    for (size_t i = 0; i < path.size(); ++i) {
        if (path[i].container == o) {
            throw Error("pybridge: cannot convert a container that contains itself: " +
                        render_path(path, path.size()) + " is " + render_path(path, i));
        }
    }
}

// Pops the frame it pushed, also when conversion throws.
struct Enter {
    Path &path;
    Enter(Path &p, PyObject *container) : path(p) { path.push_back({container, -1, nullptr}); }
    ~Enter() { path.pop_back(); }
};

Value from_py(Python py, PyObject *o, int depth, Path &path);

// An exact int within int64 (false for anything else; no Python error left set).
inline bool int64_of(PyObject *item, std::int64_t &out) {
    if (!PyLong_CheckExact(item)) return false;
    int overflow = 0;
    const long long i = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (overflow || (i == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return false;  // the general path reports or widens it
    }
    out = static_cast<std::int64_t>(i);
    return true;
}

// Container items that are exact floats or int64-sized ints are built in place, skipping
// the general dispatch (most of the cost of a big numeric list). False: not handled here.
inline bool emplace_scalar(std::vector<Value> &out, PyObject *item) {
    if (PyFloat_CheckExact(item)) {
        out.emplace_back(PyFloat_AS_DOUBLE(item));
        return true;
    }
    std::int64_t i = 0;
    if (!int64_of(item, i)) return false;
    out.emplace_back(i);
    return true;
}

Value scalar_from_numpy(Python py, PyObject *o, int depth, Path &path) {
    // numpy scalars (numpy.int64, numpy.float32, numpy.bool_, ...): by value.
    const char *type_name = Py_TYPE(o)->tp_name;
    if (std::strcmp(type_name, "numpy.bool_") == 0 || std::strcmp(type_name, "numpy.bool") == 0) {
        const int t = PyObject_IsTrue(o);
        if (t < 0) throw_python_error(py);
        return Value(t == 1);
    }
    if (PyIndex_Check(o)) {
        PyRef i(PyNumber_Index(o));
        if (!i.p) throw_python_error(py);
        return from_py(py, i.p, depth, path);
    }
    if (PyComplex_Check(o) || std::strstr(type_name, "complex") || !Py_TYPE(o)->tp_as_number ||
        !Py_TYPE(o)->tp_as_number->nb_float) {
        return Value(ObjectRef::borrow(py, o));
    }
    const double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) throw_python_error(py);  // an interrupt, say
        PyErr_Clear();  // not a number after all (a datetime64, say): keep the object
        return Value(ObjectRef::borrow(py, o));
    }
    return Value(d);
}

bool is_numpy_scalar(PyObject *o) {
    const char *type_name = Py_TYPE(o)->tp_name;
    return std::strncmp(type_name, "numpy.", 6) == 0 && std::strcmp(type_name, "numpy.ndarray") != 0 &&
           PyObject_HasAttrString(o, "dtype") && !PySequence_Check(o);
}

// The items of an exact list or tuple. The size is re-read each step, so a list that
// Python code changes meanwhile is never over-read.
std::vector<Value> items_from_py(Python py, PyObject *seq, int depth, Path &path) {
    check_cycle(path, seq);
    Enter enter(path, seq);
    std::vector<Value> out;
    out.reserve(static_cast<size_t>(PySequence_Fast_GET_SIZE(seq)));
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!emplace_scalar(out, item)) {
            // Converting may run Python code (a __class__ property, __torch_function__, a
            // thread switch) that mutates the list: hold the item while it is converted.
            PyRef hold((Py_INCREF(item), item));
            path.back().index = i;
            out.push_back(from_py(py, item, depth + 1, path));
        }
    }
    return out;
}

// A list of one or more items that are all exact floats, or all exact ints within int64,
// packed into one vector (value.hpp). nullopt: not such a list. Runs no Python code.
std::optional<Value> packed_from_py(PyObject *list) {
    const Py_ssize_t n = PyList_GET_SIZE(list);
    if (n == 0) return std::nullopt;
    PyObject *const *items = PySequence_Fast_ITEMS(list);
    if (PyFloat_CheckExact(items[0])) {
        std::vector<double> out(static_cast<size_t>(n));
        for (Py_ssize_t i = 0; i < n; ++i) {
            if (!PyFloat_CheckExact(items[i])) return std::nullopt;
            out[static_cast<size_t>(i)] = PyFloat_AS_DOUBLE(items[i]);
        }
        return Value(FloatList{std::move(out)});
    }
    if (PyLong_CheckExact(items[0])) {
        std::vector<std::int64_t> out(static_cast<size_t>(n));
        for (Py_ssize_t i = 0; i < n; ++i) {
            if (!int64_of(items[i], out[static_cast<size_t>(i)])) return std::nullopt;
        }
        return Value(IntList{std::move(out)});
    }
    return std::nullopt;
}

std::vector<Value> iterate_from_py(Python py, PyObject *o, int depth, Path &path) {
    PyRef it(PyObject_GetIter(o));
    if (!it.p) throw_python_error(py);
    std::vector<Value> out;
    Enter enter(path, o);
    while (PyObject *item = PyIter_Next(it.p)) {
        PyRef hold(item);
        out.push_back(from_py(py, item, depth + 1, path));
    }
    if (PyErr_Occurred()) throw_python_error(py);
    return out;
}

Value from_py(Python py, PyObject *o, int depth, Path &path) {
    check_depth(depth);
    if (o == Py_None) return Value();
    if (o == Py_True) return Value(true);
    if (o == Py_False) return Value(false);
    if (PyLong_CheckExact(o)) {
        int overflow = 0;
        const long long i = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow) return bigint_from_py(py, o);
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
    if (PyMemoryView_Check(o)) {
        PyRef bytes(PyBytes_FromObject(o));  // any layout, copied in C order
        if (!bytes.p) throw_python_error(py);
        return Value(Bytes{std::string(PyBytes_AS_STRING(bytes.p), static_cast<size_t>(PyBytes_GET_SIZE(bytes.p)))});
    }
    if (PyList_CheckExact(o)) {
        // Reading exact floats and ints runs no Python code, so the list cannot change meanwhile.
        if (std::optional<Value> packed = packed_from_py(o)) return std::move(*packed);
        return Value(List{items_from_py(py, o, depth, path)});
    }
    if (PyTuple_CheckExact(o)) return Value(Tuple{items_from_py(py, o, depth, path)});
    if (PyDict_CheckExact(o)) {
        check_cycle(path, o);
        Enter enter(path, o);
        Dict d;
        d.items.reserve(static_cast<size_t>(PyDict_GET_SIZE(o)));
        const Py_ssize_t size = PyDict_GET_SIZE(o);
        Py_ssize_t pos = 0;
        PyObject *k = nullptr, *val = nullptr;
        while (PyDict_Next(o, &pos, &k, &val)) {
            // Held while converted (Python code may run meanwhile, see items_from_py).
            PyRef hold_key((Py_INCREF(k), k)), hold_value((Py_INCREF(val), val));
            path.back().key = k;
            Value key = from_py(py, k, depth + 1, path);
            d.items.emplace_back(std::move(key), from_py(py, val, depth + 1, path));
            if (PyDict_GET_SIZE(o) != size) {
                PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during conversion");
                throw_python_error(py);
            }
        }
        return Value(std::move(d));
    }
    if (PySet_CheckExact(o)) return Value(Set{iterate_from_py(py, o, depth, path)});
    if (PyFrozenSet_CheckExact(o)) return Value(FrozenSet{iterate_from_py(py, o, depth, path)});
    if (PyUnicode_Check(o)) {
        PyObject *sym = symbol_type(py, false);
        if (sym && Py_TYPE(o) == reinterpret_cast<PyTypeObject *>(sym)) {
            Py_ssize_t n = 0;
            const char *s = PyUnicode_AsUTF8AndSize(o, &n);
            if (!s) throw_python_error(py);
            return Value(Symbol{std::string(s, static_cast<size_t>(n))});
        }
    }
    if (auto fn = host_function_from_python(py, o)) return Value(std::move(fn));
    if (is_torch_tensor(py, o)) {
        // Tensors DLPack cannot describe (sparse, meta, ...) stay Python objects.
        Tensor t;
        if (try_tensor_from_python(py, o, t)) return Value(std::move(t));
        if (!PyErr_ExceptionMatches(PyExc_Exception)) throw_python_error(py);  // an interrupt, say
        PyErr_Clear();
        return Value(ObjectRef::borrow(py, o));
    }
    if (is_numpy_scalar(o)) return scalar_from_numpy(py, o, depth, path);
    return Value(ObjectRef::borrow(py, o));
}

}  // namespace

PyObject *to_python(Python py, const Value &value) { return to_py(py, value, 0); }

Value from_python(Python py, PyObject *obj) {
    if (!obj) throw Error("pybridge: from_python given a null object");
    Path path;
    return from_py(py, obj, 0, path);
}

}  // namespace pyb
