// pybridge/gil/python_error.hpp — turning the Python error indicator into a PythonError.
//
// Thread contract: interpreter thread only (takes a Python token).
#pragma once

#include "errors.hpp"
#include "python_token.hpp"

namespace pyb {

// Captures and clears the current Python exception as a PythonError (type name, message,
// formatted traceback with its __cause__/__context__ chain). Never throws and never
// leaves an exception set, even when str() or the traceback formatting itself raises or
// the message is not valid UTF-8 (bad bytes are backslash-escaped). If no exception is
// set, returns a SystemError saying so. SystemExit and KeyboardInterrupt are captured
// like any exception: the host process is never exited.
PythonError fetch_python_error(Python) noexcept;

// fetch_python_error() and throw it. Call right after a CPython API call reported failure.
[[noreturn]] void throw_python_error(Python);

}  // namespace pyb
