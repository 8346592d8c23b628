// pybridge/bridge/pybridge.hpp — everything a C++ host needs: include this one header.
//
//   bridge.hpp            Bridge: start the interpreter, import, call, eval/exec
//   gil/interpreter.hpp   Interpreter: the interpreter thread, submit()/call()/stop()
//   gil/python_token.hpp  Python: the token that proves code runs on the interpreter thread
//   gil/errors.hpp        Error, PythonError, InterpreterStopped
//   gil/object_ref.hpp    ObjectRef: a Python object handle, safe to drop on any thread
//   marshal/value.hpp     Value: the host-side value and its Python mapping table
//   marshal/tensor.hpp    Tensor: a DLPack tensor shared zero-copy with torch
//   marshal/convert.hpp   to_python()/from_python(), for work inside Interpreter::call()
#pragma once

#include "../gil/errors.hpp"
#include "../gil/interpreter.hpp"
#include "../gil/object_ref.hpp"
#include "../gil/python_error.hpp"
#include "../marshal/convert.hpp"
#include "../marshal/dlpack_capsule.hpp"
#include "../marshal/dlpack_exchange.hpp"
#include "../marshal/dlpack_stream.hpp"
#include "../marshal/tensor_object.hpp"
#include "../marshal/host_function.hpp"
#include "../marshal/tensor.hpp"
#include "../marshal/tensor_python.hpp"
#include "../marshal/value.hpp"
#include "bridge.hpp"
#include "op.hpp"
