#include "vectorcall.hpp"

#include <algorithm>
#include <memory>

#include "../gil/python_error.hpp"
#include "../marshal/convert.hpp"

namespace pyb::detail {
namespace {

// Owns the references of a vectorcall's arguments until the call returns. Up to
// kInline arguments live on the stack (no allocation per call).
class CallFrame {
public:
    explicit CallFrame(size_t n) : n_(1 + n) {
        argv_ = n_ <= kInline ? inline_ : (heap_ = std::make_unique<PyObject *[]>(n_)).get();
        std::fill(argv_, argv_ + n_, nullptr);
    }
    ~CallFrame() {
        for (size_t i = 0; i < n_; ++i) Py_XDECREF(argv_[i]);
        Py_XDECREF(kwnames);
    }
    CallFrame(const CallFrame &) = delete;
    CallFrame &operator=(const CallFrame &) = delete;
    PyObject **argv() noexcept { return argv_; }  // argv()[0] is the PY_VECTORCALL_ARGUMENTS_OFFSET slot

    PyObject *kwnames = nullptr;

private:
    static constexpr size_t kInline = 8;
    size_t n_;
    PyObject **argv_;
    PyObject *inline_[kInline];
    std::unique_ptr<PyObject *[]> heap_;
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

PyObject *vectorcall(Python py, PyObject *callable, ArgSpan args, const Kwargs &kwargs,
                     std::initializer_list<PyObject *> prefix, ArgConverter convert) {
    // Python refuses a repeated keyword in source; vectorcall would let the last one win.
    for (size_t i = 1; i < kwargs.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
            if (kwargs[j].first == kwargs[i].first)
                throw Error("pybridge: keyword argument '" + kwargs[i].first + "' given more than once");
        }
    }
    CallFrame frame(prefix.size() + args.size + kwargs.size());
    size_t at = 1;
    for (PyObject *p : prefix) {
        Py_INCREF(p);
        frame.argv()[at++] = p;
    }
    for (const Value &a : args) frame.argv()[at++] = convert ? convert(py, a) : to_python(py, a);
    if (!kwargs.empty()) {
        frame.kwnames = PyTuple_New(static_cast<Py_ssize_t>(kwargs.size()));
        if (!frame.kwnames) throw_python_error(py);
        for (size_t i = 0; i < kwargs.size(); ++i) {
            PyTuple_SET_ITEM(frame.kwnames, static_cast<Py_ssize_t>(i), new_str(py, kwargs[i].first));
            frame.argv()[at++] = convert ? convert(py, kwargs[i].second) : to_python(py, kwargs[i].second);
        }
    }
    PyObject *result = PyObject_Vectorcall(callable, frame.argv() + 1,
                                           (prefix.size() + args.size) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                           frame.kwnames);
    if (!result) throw_python_error(py);
    return result;
}

}  // namespace pyb::detail
