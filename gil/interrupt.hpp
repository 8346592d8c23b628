// pybridge/gil/interrupt.hpp — internal: stopping a running call from another thread.
//
// A host thread cannot touch Python, so cancel() hands the request to one watchdog thread
// (started on first use), which also fires deadlines and forwards SIGINT. The watchdog
// raises pybridge.CallInterrupted (or KeyboardInterrupt for SIGINT) in the interpreter
// thread with PyThreadState_SetAsyncExc, if the call it was meant for is still running;
// CPython raises it at the next bytecode boundary.
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
// In a forked child (after_fork.hpp): forgets the watchdog thread (it does not exist here;
// its std::thread must not terminate the child at exit) and the parent's locks.
void forget_after_fork() noexcept;

// The loop marks the call it runs (null between calls).
void set_running(CallNode *call) noexcept;
// The loop marks a call handed over through a slot running (it has no CallNode: nothing
// can cancel it, but SIGINT reaches it).
void set_running_slot_call() noexcept;

// stop(): raises pybridge.CallInterrupted into the call running now, if any (once: a call
// that catches it keeps running). Any thread; no-op once close() ran.
void interrupt_for_stop() noexcept;
// Whether interrupt_for_stop() was called: the interrupted call's caller then gets
// InterpreterStopped rather than a CallInterrupted it never asked for.
bool stop_interrupt_sent() noexcept;

// After a call: drops an interrupt that arrived as the call was returning, so it cannot
// hit the next call. Interpreter thread.
void clear_leftover(Python) noexcept;

// `call` is cancelled with DeadlineExceeded at `deadline` unless final by then. Takes a
// reference on `call` until then.
void add_deadline(CallNode *call, std::chrono::steady_clock::time_point deadline);

// Forgets `call`'s deadline (it finished first), dropping the reference add_deadline took.
void remove_deadline(CallNode *call) noexcept;

// "pybridge.CallInterrupted", the type name of the interrupt exception.
extern const char *const kInterruptTypeName;

}  // namespace pyb::detail::interrupt
