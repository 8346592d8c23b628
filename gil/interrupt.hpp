// pybridge/gil/interrupt.hpp — internal: stopping a running call from another thread.
//
// A host thread cannot touch Python, so it asks CPython to run a function on the
// interpreter thread at the next bytecode boundary (Py_AddPendingCall, documented as safe
// without the GIL; pending calls run on the thread that initialized Python, which is the
// interpreter thread). That function raises pybridge.CallInterrupted (or KeyboardInterrupt
// for SIGINT) if the call it was meant for is still the one running.
// One watchdog thread, started on first use, fires deadlines and forwards SIGINT.
#pragma once

#include <chrono>

#include "call.hpp"
#include "python_token.hpp"

namespace pyb::detail::interrupt {

// Interpreter thread, after Python started: creates pybridge.CallInterrupted and, if
// asked, installs the SIGINT handler. Throws Error on failure.
void open(Python, bool route_sigint);

// Interpreter thread, before Python is finalized: no pending call is added after this;
// stops the watchdog and restores the previous SIGINT handler.
void close(Python) noexcept;

// The loop marks the call it runs (null between calls).
void set_running(CallNode *call) noexcept;

// `call` is cancelled with DeadlineExceeded at `deadline` unless final by then. Takes a
// reference on `call` until then.
void add_deadline(CallNode *call, std::chrono::steady_clock::time_point deadline);

// "pybridge.CallInterrupted", the type name of the interrupt exception.
extern const char *const kInterruptTypeName;

}  // namespace pyb::detail::interrupt
