// pybridge/gil/interpreter.hpp — the embedded CPython interpreter and the one thread that
// owns it.
//
// Thread contract:
//   - submit(), call() and stop() may be called from any host thread. Host threads never
//     take the GIL: work is queued, and the interpreter thread runs it, FIFO, one call at
//     a time, holding the GIL.
//   - Work submitted from the interpreter thread itself (Python called a host function that
//     calls Python again) runs inline at once instead of deadlocking.
//   - While idle the interpreter thread sleeps with the GIL released, so Python's own
//     background threads keep running.
//   - One Interpreter per process, started once: CPython cannot be re-initialized safely
//     once extension modules such as torch are loaded. A second start is an Error.
//   - stop() is explicit and idempotent; the destructor calls it. Do not rely on a static
//     Interpreter's destructor: stop it before main() returns.
#pragma once

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "config.hpp"
#include "errors.hpp"
#include "python_token.hpp"

namespace pyb {

namespace detail {
// A queued call: run() on the interpreter thread with the GIL, or reject() if it never runs.
struct Task {
    virtual ~Task() = default;
    virtual void run(Python) noexcept = 0;
    virtual void reject(std::exception_ptr why) noexcept = 0;
};
struct InterpreterState;
// The exception being handled, made safe to leave the interpreter thread: a pybind11
// error_already_set (which holds Python objects) becomes a PythonError.
std::exception_ptr portable_current_exception(Python) noexcept;
}  // namespace detail

// Where the running interpreter found itself (read once at start-up).
struct InterpreterInfo {
    std::string version;      // sys.version
    std::string executable;   // sys.executable
    std::string prefix;       // sys.prefix (the virtual environment when one is used)
    std::string base_prefix;  // sys.base_prefix (the Python installation)
};

class Interpreter {
public:
    // Starts CPython on a new thread and waits until it is initialized.
    // Throws Error if start-up fails (the message names the Python executable and the
    // reason, e.g. a venv built on another Python than the libpython linked in), or if an
    // Interpreter was already started in this process.
    explicit Interpreter(InterpreterConfig config = {});
    ~Interpreter();  // stop()

    Interpreter(const Interpreter &) = delete;
    Interpreter &operator=(const Interpreter &) = delete;

    // Queues fn(Python) to run on the interpreter thread; returns a future for its result.
    // An exception thrown by fn (PythonError for a Python exception) is stored in the future.
    // On the interpreter thread itself, runs fn inline and returns a ready future.
    // Throws InterpreterStopped if stop() has begun.
    template <class F>
    auto submit(F &&fn) -> std::future<std::invoke_result_t<std::decay_t<F> &, Python>>;

    // submit(fn).get(): runs fn on the interpreter thread and returns its result or
    // rethrows its exception.
    template <class F>
    auto call(F &&fn) -> std::invoke_result_t<std::decay_t<F> &, Python> {
        return submit(std::forward<F>(fn)).get();
    }

    // Stops the interpreter: queued calls that have not started are rejected with
    // InterpreterStopped, the running call finishes, pending releases run, Python is
    // finalized per InterpreterConfig::finalize, and the thread is joined. Idempotent;
    // concurrent callers all return after the thread is joined. Throws Error when called
    // from the interpreter thread (it would wait for itself).
    void stop();

    bool running() const noexcept;
    const InterpreterInfo &info() const noexcept;

    // True when the calling thread is the interpreter thread running a call.
    static bool on_interpreter_thread() noexcept;

private:
    template <class F, class R>
    struct CallTask;

    void enqueue(std::unique_ptr<detail::Task> task);  // throws InterpreterStopped
    static void thread_main(detail::InterpreterState *state);
    static Python token() noexcept { return Python(); }

    std::unique_ptr<detail::InterpreterState> state_;
};

// ---------------------------------------------------------------------------------------
template <class F, class R>
struct Interpreter::CallTask final : detail::Task {
    F fn;
    std::promise<R> promise;
    explicit CallTask(F f) : fn(std::move(f)) {}

    void run(Python py) noexcept override {
        try {
            if constexpr (std::is_void_v<R>) {
                fn(py);
                promise.set_value();
            } else {
                promise.set_value(fn(py));
            }
        } catch (...) {
            promise.set_exception(detail::portable_current_exception(py));
        }
    }
    void reject(std::exception_ptr why) noexcept override { promise.set_exception(why); }
};

template <class F>
auto Interpreter::submit(F &&fn) -> std::future<std::invoke_result_t<std::decay_t<F> &, Python>> {
    using R = std::invoke_result_t<std::decay_t<F> &, Python>;
    auto task = std::make_unique<CallTask<std::decay_t<F>, R>>(std::forward<F>(fn));
    std::future<R> result = task->promise.get_future();
    if (on_interpreter_thread()) {
        task->run(token());  // re-entrant call: queueing it would wait for ourselves
    } else {
        enqueue(std::move(task));
    }
    return result;
}

}  // namespace pyb
