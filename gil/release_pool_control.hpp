// pybridge/gil/release_pool_control.hpp — internal: the interpreter loop's side of the
// release pool. Not part of the public API.
#pragma once

#include "python_token.hpp"
#include "release_pool.hpp"

namespace pyb::release_pool::control {

// Called by the interpreter thread when it starts: `wake()` is called (from any thread)
// when a release is queued while the loop may be asleep. It may still be called after
// close() (a releaser that read it just before), so it must touch static storage only.
void open(void (*wake)()) noexcept;

// Marks the calling thread as the interpreter thread holding (or not holding) the GIL.
void set_holds_gil(bool holds) noexcept;

// True if releases are queued, as the pending flags say (one load each, and one per ring:
// cheap enough to poll while spinning). See drain_before_calls.
bool pending() noexcept;

// Runs every queued release. Interpreter thread, GIL held.
void drain(Python) noexcept;

// drain() if anything is queued, including a push onto defer()'s stack whose pending flag
// is not raised yet (pending() polls flags only). The loop calls it before it runs calls,
// so a call runs after every release its thread (or anything before it) made.
void drain_before_calls(Python) noexcept;

// The longest the queue has been, for tests.
size_t peak_queued() noexcept;

// Drains, then drops every later release. Interpreter thread, GIL held, at shutdown.
void close(Python) noexcept;
// In a forked child (after_fork.hpp): closed without running anything (the parent's
// interpreter thread is not here); later releases are dropped, as after close().
void abandon_after_fork() noexcept;
// Runs the at_python_exit functions (interpreter thread, at the end of stop).
void run_python_exit_hooks() noexcept;

}  // namespace pyb::release_pool::control
