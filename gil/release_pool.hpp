// pybridge/gil/release_pool.hpp — Python work that a host thread must not do itself
// (a Py_DECREF, a DLPack deleter of a Python-produced tensor) is queued here and run by
// the interpreter thread, with the GIL, before its next call and while idle.
//
// Thread contract: release() may be called on any thread at any time, also before the
// interpreter starts and after it stopped. On the interpreter thread (GIL held) it runs
// the release at once. After the interpreter stopped, releases are dropped: the Python
// memory they would free is gone with the interpreter or lives until process exit,
// which is harmless; running them would not be.
// Two ways in. release(): PyO3's reference pool — a mutex-guarded vector plus an atomic
// "dirty" flag read with one load on the fast path; the drainer swaps the vector out and
// unlocks before running anything. defer(): for objects that carry their own record
// (ObjectRef's and Tensor's shared blocks) — a lock-free stack of the objects themselves,
// so a host thread's drop writes one cache line and allocates nothing, and the object is
// freed on the interpreter thread that allocated it.
#pragma once

#include <cstddef>

namespace pyb {

class Python;

namespace release_pool {

// A release to run with the GIL: fn(arg).
struct Release {
    void (*fn)(void *arg);
    void *arg;
};

// Past this many queued releases, a releasing thread waits for the interpreter thread's
// next drain (before its next call, or as soon as it is idle) — never while it holds the
// GIL, and at most 1 s per drain cycle (so a thread the interpreter is waiting for
// cannot deadlock; the queue then grows past the cap until the next drain).
extern const size_t kMaxQueued;

// Runs `r` now when called on the interpreter thread while it holds the GIL, else queues
// it for the interpreter thread (or drops it once the interpreter has stopped). May wait
// while the queue is over kMaxQueued (see above).
void release(Release r) noexcept;

// A release whose record lives inside the object it releases: no allocation and no lock
// (a lock-free push). The object embeds a Deferred and sets `run`, which is called exactly
// once: run(self, true) on the interpreter thread with the GIL held, or run(self, false)
// where the interpreter has stopped — then it must only free host memory, not touch Python.
// It may free the object. (A host tensor's block is one: its producer's deleter runs on
// the interpreter thread, and the block is freed on the thread that allocated it.)
struct Deferred {
    Deferred *next = nullptr;
    void (*run)(Deferred *self, bool python_alive) = nullptr;
};

// Runs d->run(d, true) now on the interpreter thread while it holds the GIL, else queues d
// for the interpreter thread's next drain, as release() does. No cap: what is queued is the
// objects themselves (release()'s cap bounds the queue's own memory).
void defer(Deferred *d) noexcept;

// Convenience: release one strong reference to a PyObject (passed as void* so this
// header needs no Python.h).
void decref(void *py_object) noexcept;

// True on the interpreter thread while it holds the GIL.
bool on_interpreter_thread() noexcept;

// Registers fn to run when the pool closes at shutdown (interpreter thread, GIL held,
// before the last drain): owners of long-lived Python references held for host handles
// (a host tensor's cached torch view) give them back while their releases can still run.
// Any thread; registering the same fn again does nothing; at most 8 functions.
void at_close(void (*fn)()) noexcept;

// Registers fn to run at stop once Python can run no more code of the host's: after
// Py_FinalizeEx, or after the shutdown steps that replace it (threads joined, atexit run).
// Interpreter thread; the GIL is held when CPython was not finalized. Host memory lent to
// Python is given back here (marshal/python_exports.hpp). Same rules as at_close.
void at_python_exit(void (*fn)()) noexcept;

}  // namespace release_pool
}  // namespace pyb
