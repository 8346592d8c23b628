// pybridge/bridge/vectorcall.hpp — internal: calling a Python callable with host Values.
//
// Thread contract: interpreter thread (takes the Python token).
#pragma once

#include <Python.h>

#include <initializer_list>
#include <string_view>

#include "../gil/object_ref.hpp"
#include "../marshal/value.hpp"

namespace pyb::detail {

// obj's object, borrowed; Error for an empty handle.
PyObject *checked(Python, const ObjectRef &obj);

// A new str from UTF-8; PythonError for invalid UTF-8.
PyObject *new_str(Python, std::string_view s);

// How an argument Value becomes a Python object (a new reference).
using ArgConverter = PyObject *(*)(Python, const Value &);

// Positional arguments, borrowed (an Args vector, or a braced list's array), not copied.
struct ArgSpan {
    const Value *data = nullptr;
    size_t size = 0;
    ArgSpan(const Args &args) noexcept : data(args.data()), size(args.size()) {}
    ArgSpan(const Value *d, size_t n) noexcept : data(d), size(n) {}
    const Value *begin() const noexcept { return data; }
    const Value *end() const noexcept { return data + size; }
};

// callable(*prefix, *args, **kwargs) through vectorcall; returns a new reference. `prefix`
// objects are borrowed (they go first, e.g. a wrapper's own arguments); args and kwargs
// are converted with `convert` (default: to_python, the value table). Throws PythonError.
PyObject *vectorcall(Python, PyObject *callable, ArgSpan args, const Kwargs &kwargs,
                     std::initializer_list<PyObject *> prefix = {}, ArgConverter convert = nullptr);

}  // namespace pyb::detail
