// pybridge/gil/host_error.hpp — carrying a C++ exception through Python and back.
//
// When a host function (C++ called by Python) throws, the exception becomes a Python
// exception of type pybridge.HostError (an Exception subclass; its str() is what()) that
// holds the original std::exception_ptr. Python code may catch it like any exception. If
// it propagates back out of the call the host made, the host gets the original C++
// exception again, with its own type.
//
// Thread contract: interpreter thread only.
#pragma once

#include <exception>

#include "python_token.hpp"

namespace pyb {

// Creates pybridge.HostError (at start-up, so Python code can name it before any host
// function failed).
void create_host_error_type(Python) noexcept;

// Sets the Python error indicator to a pybridge.HostError carrying `error`.
void raise_host_exception(Python, std::exception_ptr error) noexcept;

// If the pending Python exception is a pybridge.HostError, clears it and returns the C++
// exception it carries; otherwise returns null and leaves the error set.
std::exception_ptr take_host_exception(Python) noexcept;

}  // namespace pyb
