// pybridge/bridge/c/handles.hpp — internal: what the C ABI's opaque handles hold, and the
// guard that turns every C++ exception into a status and the thread's last error.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../op.hpp"
#include "../pybridge.h"

// Retired, not deleted, by pyb_interpreter_free (one interpreter per process): a handle
// used after free finds `freed` set instead of freed memory. Ops keep a pointer to the
// Bridge, which therefore lives on, stopped, for the process.
struct pyb_interpreter {
    std::unique_ptr<pyb::Bridge> bridge;
    std::atomic<bool> freed{false};
};
struct pyb_value {
    explicit pyb_value(pyb::Value value) : v(std::move(value)) {}
    pyb::Value v;
    mutable std::string text;  // a big int's decimal text, for pyb_value_str
};
struct pyb_object {
    pyb::ObjectRef o;
};
struct pyb_op {
    pyb::Op op;
};
struct pyb_error {
    pyb_status status = PYB_OK;
    std::string type, message, traceback;
    bool has_exit_code = false;
    int exit_code = 0;
};

namespace pyb::c {

// Misuse the C ABI detects itself.
struct ArgumentError : Error {
    using Error::Error;
};
struct KindError : Error {
    using Error::Error;
};

// Completion callback of one future: fired once, by whichever comes last of the call's
// end and the registration.
struct Completion {
    std::mutex mutex;
    bool done = false;
    bool registered = false;  // pyb_future_on_complete was called (once allowed)
    void (*callback)(void *) = nullptr;
    void *user = nullptr;
    void fire() {
        void (*cb)(void *) = nullptr;
        void *u = nullptr;
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (done) return;
            done = true;
            cb = callback;
            u = user;
        }
        if (cb) cb(u);
    }
};

// Fires its Completion when destroyed: held by the submitted callable, so the callback runs
// when the call ran, and also when it was cancelled or dropped at stop (the callable is
// destroyed then too).
struct CompletionGuard {
    std::shared_ptr<Completion> completion;
    explicit CompletionGuard(std::shared_ptr<Completion> c) : completion(std::move(c)) {}
    CompletionGuard(CompletionGuard &&o) noexcept = default;
    CompletionGuard(const CompletionGuard &) = delete;
    ~CompletionGuard() {
        if (completion) completion->fire();
    }
};

}  // namespace pyb::c

struct pyb_future {
    pyb::Future<pyb::Value> f;
    bool taken = false;  // the result was waited for
    std::shared_ptr<pyb::c::Completion> completion;
};

namespace pyb::c {

// Records `status` and `message` as the calling thread's last error; returns status.
pyb_status fail(pyb_status status, std::string message);
// Records the exception being handled; returns its status. Never throws.
pyb_status fail_current() noexcept;

// Runs f() (returning void); any exception becomes the status and the last error.
template <class F>
pyb_status guard(F &&f) noexcept {
    try {
        f();
        return PYB_OK;
    } catch (...) {
        return fail_current();
    }
}

// Checks that a handle argument is present.
template <class T>
T &need(T *handle, const char *what) {
    if (!handle) throw ArgumentError(std::string("pybridge: ") + what + " is NULL");
    return *handle;
}

// Positional and keyword arguments from the C arrays (values copied).
void collect_args(const pyb_value *const *args, size_t nargs, const char *const *kwnames,
                  const pyb_value *const *kwargs, size_t nkwargs, Args &pos, Kwargs &kw);

}  // namespace pyb::c
