// pybridge/gil/release_pool_control.hpp — internal: the interpreter loop's side of the
// release pool. Not part of the public API.
#pragma once

#include "python_token.hpp"
#include "release_pool.hpp"

namespace pyb::release_pool::control {

// Called by the interpreter thread when it starts: `wake(ctx)` is called (from any thread)
// when a release is queued while the loop may be asleep.
void open(void (*wake)(void *ctx), void *ctx) noexcept;

// Marks the calling thread as the interpreter thread holding (or not holding) the GIL.
void set_holds_gil(bool holds) noexcept;

// True if releases are queued. One atomic load (a plain load on x86).
bool pending() noexcept;

// Runs every queued release. Interpreter thread, GIL held.
void drain(Python) noexcept;

// The longest the queue has been, for tests.
size_t peak_queued() noexcept;

// Drains, then drops every later release. Interpreter thread, GIL held, at shutdown.
void close(Python) noexcept;

}  // namespace pyb::release_pool::control
