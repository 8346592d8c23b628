#include "vectorcall.hpp"

#include <vector>

#include "../gil/python_error.hpp"
#include "../marshal/convert.hpp"

namespace pyb::detail {
namespace {

// Owns the references of a vectorcall's arguments until the call returns.
struct CallFrame {
    std::vector<PyObject *> argv;  // argv[0] is the PY_VECTORCALL_ARGUMENTS_OFFSET slot
    PyObject *kwnames = nullptr;
    explicit CallFrame(size_t n) : argv(1 + n, nullptr) {}
    ~CallFrame() {
        for (PyObject *o : argv) Py_XDECREF(o);
        Py_XDECREF(kwnames);
    }
};

}  // namespace

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

PyObject *vectorcall(Python py, PyObject *callable, const Args &args, const Kwargs &kwargs,
                     std::initializer_list<PyObject *> prefix, ArgConverter convert) {
    CallFrame frame(prefix.size() + args.size() + kwargs.size());
    size_t at = 1;
    for (PyObject *p : prefix) {
        Py_INCREF(p);
        frame.argv[at++] = p;
    }
    for (const Value &a : args) frame.argv[at++] = convert ? convert(py, a) : to_python(py, a);
    if (!kwargs.empty()) {
        frame.kwnames = PyTuple_New(static_cast<Py_ssize_t>(kwargs.size()));
        if (!frame.kwnames) throw_python_error(py);
        for (size_t i = 0; i < kwargs.size(); ++i) {
            PyTuple_SET_ITEM(frame.kwnames, static_cast<Py_ssize_t>(i), new_str(py, kwargs[i].first));
            frame.argv[at++] = convert ? convert(py, kwargs[i].second) : to_python(py, kwargs[i].second);
        }
    }
    PyObject *result = PyObject_Vectorcall(callable, frame.argv.data() + 1,
                                           (prefix.size() + args.size()) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                           frame.kwnames);
    if (!result) throw_python_error(py);
    return result;
}

}  // namespace pyb::detail
