// pybridge/marshal/convert.hpp — Value <-> Python object, by the table in value.hpp.
//
// Thread contract: interpreter thread only (every function takes a Python token).
// Errors: Error for a value with no Python form (int outside int64, nesting deeper than
// kMaxDepth); PythonError when CPython refuses (invalid UTF-8 in a host string, a str
// with a lone surrogate, an unhashable dict key).
#pragma once

#include <Python.h>

#include "../gil/python_token.hpp"
#include "value.hpp"

namespace pyb {

// Containers nested deeper than this are refused with an Error (no stack overflow).
inline constexpr int kMaxDepth = 1000;

// A new reference to the Python form of `value`. Tensors become torch.Tensor sharing the
// host memory (imports torch on first use). Objects are the same Python object.
PyObject *to_python(Python, const Value &value);

// The host form of `obj` (borrowed). Exact builtin types convert by the table; torch
// tensors (and subclasses such as nn.Parameter) become zero-copy Tensors (detached
// from autograd); every other object, subclasses of builtins included, becomes an
// Object handle.
Value from_python(Python, PyObject *obj);

}  // namespace pyb
