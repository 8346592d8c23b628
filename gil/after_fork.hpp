// pybridge/gil/after_fork.hpp — what a process forked from a host with a running
// interpreter may still do: nothing with Python.
//
// fork() copies only the calling thread: the interpreter thread, the watchdog and every
// lock they held are gone in the child, so a call would wait for ever, stop() would join a
// thread that does not exist, and a static std::thread would terminate the child at exit.
// A pthread_atfork child handler (installed once, at the first start) marks the child:
// the submission gate closes (calls fail at once with InterpreterStopped and
// kForkedChildMessage), a future the parent made fails instead of waiting, stop() and the
// destructors return at once leaving the parent's state alone, and releases are dropped
// (Python's memory in the child is the parent's copy). The parent is unaffected.
//
// A child forked by Python itself (os.fork, multiprocessing's "fork" start method) on the
// interpreter thread keeps running Python there: its re-entrant calls still run inline.
#pragma once

namespace pyb::detail {

extern const char *const kForkedChildMessage;

// True in a child process forked after an interpreter started. Any thread.
bool in_forked_child() noexcept;

// Installs the pthread_atfork child handler once per process. Any thread.
void install_fork_handler();

// Called by the child handler (one thread, async-signal context rules apply: no locks
// that may have been held at fork time, no allocation).
void close_gate_after_fork() noexcept;  // interpreter.cpp

}  // namespace pyb::detail
