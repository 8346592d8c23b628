// pybridge/gil/interpreter.hpp — the embedded CPython interpreter and the one thread that
// owns it.
//
// Thread contract:
//   - submit(), try_submit(), submit_batch(), post(), call() and stop() may be called from
//     any host thread, concurrently. Host threads never take the GIL: calls are queued
//     (lock-free; call() through the calling thread's own slot) and the interpreter thread
//     runs them one at a time, holding the GIL, in order: a call runs after every call its
//     thread, or anything that happened before it, submitted.
//   - A call submitted from the interpreter thread itself (Python called a host function
//     that calls Python again) runs inline at once instead of deadlocking; waiting there for
//     a call queued behind the current one throws WouldDeadlock (see future.hpp).
//   - Idle, the interpreter thread spins a few microseconds, then sleeps on a futex with the
//     GIL released, so Python's own background threads keep running.
//   - One Interpreter per process, started once: CPython cannot be re-initialized safely
//     once extension modules such as torch are loaded. A second start is an Error.
//   - stop() is explicit and idempotent; the destructor calls it. Do not rely on a static
//     Interpreter's destructor: stop it before main() returns.
//
// Cancellation policy: a call cancelled (Future::cancel()) or past its deadline before it
// starts never runs. A running one gets the exception pybridge.CallInterrupted (a
// BaseException, so `except Exception` does not swallow it) raised into its Python code at
// the next bytecode boundary: `while True: pass` stops. C-level work in progress (one torch
// operation, a time.sleep()) finishes first. The interpreter stays usable afterwards.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "call_slot.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "future.hpp"
#include "python_token.hpp"

namespace pyb {

// Why try_submit() could not queue a call.
enum class SubmitStatus {
    Ok,
    NotStarted,  // start() has not run (or failed)
    Stopping,    // stop() has begun
    Stopped,     // the interpreter thread has finished
};
const char *to_string(SubmitStatus status) noexcept;

template <class T>
struct TrySubmit {
    SubmitStatus status;
    Future<T> future;  // valid only when status == Ok
    explicit operator bool() const noexcept { return status == SubmitStatus::Ok; }
};

struct CallOptions {
    // The call is cancelled with DeadlineExceeded if it has not finished by then.
    std::optional<std::chrono::steady_clock::time_point> deadline;

    // A deadline `d` from now. d <= 0: already due (the call will not run); a d too large
    // to represent: no deadline. Throws Error for a NaN d.
    template <class Rep, class Period>
    static CallOptions timeout(std::chrono::duration<Rep, Period> d) {
        using Clock = std::chrono::steady_clock;
        if (d != d) throw Error("pybridge: CallOptions::timeout: the timeout is NaN");
        const auto now = Clock::now();
        if (d <= d.zero()) return {now};
        const std::chrono::duration<double> want = d, room = Clock::time_point::max() - now;
        if (want >= room) return {};
        return {now + std::chrono::duration_cast<Clock::duration>(d)};
    }
};

// Where the running interpreter found itself (read once at start-up).
struct InterpreterInfo {
    std::string version;      // sys.version
    std::string executable;   // sys.executable
    std::string prefix;       // sys.prefix (the virtual environment when one is used)
    std::string base_prefix;  // sys.base_prefix (the Python installation)
};

namespace detail {
struct InterpreterState;
}

class Interpreter {
public:
    // Not started: calls report SubmitStatus::NotStarted until start().
    Interpreter();
    // Constructs and start()s.
    explicit Interpreter(InterpreterConfig config);
    ~Interpreter();  // stop()

    Interpreter(const Interpreter &) = delete;
    Interpreter &operator=(const Interpreter &) = delete;

    // Starts CPython on a new thread and waits until it is initialized. Throws Error if
    // start-up fails (the message names the Python executable and the reason, e.g. a venv
    // built on another Python than the libpython linked in), if this Interpreter was
    // started before, or if another Interpreter was started in this process.
    void start(InterpreterConfig config = {});

    template <class F>
    using Result = std::invoke_result_t<std::decay_t<F> &, Python>;

    // Queues fn(Python) to run on the interpreter thread; the Future holds its result, or
    // the exception it threw (PythonError for a Python exception). On the interpreter
    // thread itself, runs fn inline and returns a ready Future.
    // Throws InterpreterStopped if the interpreter is not running (see try_submit()).
    template <class F>
    Future<Result<F>> submit(F &&fn, const CallOptions &options = {});

    // submit() that reports why it cannot queue instead of throwing.
    template <class F>
    TrySubmit<Result<F>> try_submit(F &&fn, const CallOptions &options = {});

    // Queues all of `fns` with one hand-off and one wake-up; futures in the same order.
    // Throws InterpreterStopped (and queues none) if the interpreter is not running.
    template <class F>
    std::vector<Future<Result<F>>> submit_batch(std::vector<F> fns);

    // Fire and forget: queues fn (also when called on the interpreter thread: it runs after
    // the current call); its result is dropped and an exception it throws goes to
    // InterpreterConfig::error_sink. Throws InterpreterStopped if not running.
    template <class F>
    void post(F &&fn);

    // submit(fn, options).get(): runs fn on the interpreter thread and returns its result,
    // or throws its error (see Future::get()). From a host thread and without a deadline,
    // the call is handed over through the thread's own slot and answered on its stack
    // (gil/call_slot.hpp): no allocation, and fewer cache lines cross between the cores
    // than through the shared queue. Like submit(), it runs a copy of fn; the copy is
    // destroyed on the calling thread on that path, on the interpreter thread on the
    // queue's (past 16 host threads, with a deadline): captures must not need the GIL to
    // be destroyed (a Python handle among them is released through the release pool). Same
    // order guarantees as submit(): it runs after everything this thread (or anything that
    // happened before this call) queued.
    template <class F>
    Result<F> call(F &&fn, const CallOptions &options = {});

    // Stops the interpreter: calls that have not started are cancelled with
    // InterpreterStopped; the running call, if any, is interrupted once at its next bytecode
    // boundary (pybridge.CallInterrupted, a BaseException: its caller gets
    // InterpreterStopped; native code — a torch op, a host function — runs to its end first,
    // and a call that catches the interrupt keeps stop() waiting for it); pending releases
    // run, Python is finalized per InterpreterConfig::finalize, and the thread is joined. Idempotent;
    // concurrent callers all return after the thread is joined. Throws Error when called
    // from the interpreter thread (it would wait for itself).
    void stop();

    bool running() const noexcept;
    const InterpreterInfo &info() const noexcept;

    // True when the calling thread is the interpreter thread running a call.
    static bool on_interpreter_thread() noexcept;

private:
    // Queues the linked chain first..last; takes no reference on failure.
    SubmitStatus enqueue(detail::CallNode *first, detail::CallNode *last, const CallOptions &options) noexcept;
    // Hands the call filled into `slot` over (call()'s path); nothing on failure.
    SubmitStatus publish(detail::CallSlot *slot) noexcept;
    // The gate every submission passes: Ok, or why the interpreter takes no calls.
    SubmitStatus enter_gate() noexcept;
    void leave_gate() noexcept;
    static void run_inline(detail::CallNode *node) noexcept;
    static void thread_main(detail::InterpreterState *state);
    static Python token() noexcept { return Python(); }
    void throw_not_running(SubmitStatus status) const;

    std::unique_ptr<detail::InterpreterState> state_;
};

// ---------------------------------------------------------------------------------------
template <class F>
TrySubmit<Interpreter::Result<F>> Interpreter::try_submit(F &&fn, const CallOptions &options) {
    using R = Result<F>;
    auto *node = new detail::CallImpl<std::decay_t<F>, R>(std::forward<F>(fn));
    Future<R> future(node);  // the Future's reference; the queue's is taken by enqueue
    if (on_interpreter_thread()) {
        run_inline(node);  // re-entrant call: queueing it would wait for ourselves
        return {SubmitStatus::Ok, std::move(future)};
    }
    const SubmitStatus status = enqueue(node, node, options);
    if (status != SubmitStatus::Ok) {
        node->discard();
        node->refs.fetch_sub(1, std::memory_order_relaxed);  // the queue's, never taken
        return {status, Future<R>()};
    }
    return {status, std::move(future)};
}

template <class F>
Future<Interpreter::Result<F>> Interpreter::submit(F &&fn, const CallOptions &options) {
    auto r = try_submit(std::forward<F>(fn), options);
    if (!r) throw_not_running(r.status);
    return std::move(r.future);
}

template <class F>
Interpreter::Result<F> Interpreter::call(F &&fn, const CallOptions &options) {
    using R = Result<F>;
    detail::CallSlot *slot =
        options.deadline || on_interpreter_thread() ? nullptr : detail::this_thread_call_slot();
    if (!slot) return submit(std::forward<F>(fn), options).get();
    // As submit(), the call runs a copy of fn (moved from an rvalue). The interpreter thread
    // uses the slot, the copy and `reply` only until the reply is final; we wait for that.
    using Fn = std::decay_t<F>;
    detail::SlotReplyOf<R> reply;
    std::optional<Fn> own;  // the copy, when it is too large to travel in the slot
    if constexpr (detail::kTravelsInSlot<Fn>) {
        detail::fill_slot_inline<Fn>(*slot, std::forward<F>(fn), reply);
    } else {
        detail::fill_slot_pointer(*slot, own.emplace(std::forward<F>(fn)), reply);
    }
    if (const SubmitStatus status = publish(slot); status != SubmitStatus::Ok) throw_not_running(status);
    detail::wait_final(reply.state);
    if ((reply.state.load(std::memory_order_acquire) & detail::kStateMask) != detail::kSucceeded) {
        std::exception_ptr error = std::move(reply.error);
        std::rethrow_exception(error);
    }
    if constexpr (!std::is_void_v<R>) return std::move(*reply.value);
}

template <class F>
std::vector<Future<Interpreter::Result<F>>> Interpreter::submit_batch(std::vector<F> fns) {
    using R = Result<F>;
    std::vector<Future<R>> futures;
    futures.reserve(fns.size());
    detail::CallNode *first = nullptr, *last = nullptr;
    for (F &fn : fns) {
        auto *node = new detail::CallImpl<F, R>(std::move(fn));
        futures.emplace_back(node);
        if (last) last->next.store(node, std::memory_order_relaxed);
        else first = node;
        last = node;
    }
    if (!first) {
        if (!running() && !on_interpreter_thread()) throw_not_running(SubmitStatus::Stopped);
        return futures;
    }
    if (on_interpreter_thread()) {
        for (detail::CallNode *n = first; n;) {
            auto *next = static_cast<detail::CallNode *>(n->next.load(std::memory_order_relaxed));
            run_inline(n);
            n = next;
        }
        return futures;
    }
    const SubmitStatus status = enqueue(first, last, {});
    if (status != SubmitStatus::Ok) {
        for (detail::CallNode *n = first; n; n = static_cast<detail::CallNode *>(n->next.load())) {
            n->discard();
            n->refs.fetch_sub(1, std::memory_order_relaxed);
        }
        futures.clear();  // frees the nodes
        throw_not_running(status);
    }
    return futures;
}

template <class F>
void Interpreter::post(F &&fn) {
    using R = Result<F>;
    auto *node = new detail::CallImpl<std::decay_t<F>, R>(std::forward<F>(fn));
    node->fire_and_forget = true;
    node->refs.store(1, std::memory_order_relaxed);  // the queue's only
    // Queued even on the interpreter thread: fire and forget must not run nested inside the
    // current call (which may hold a lock the posted work needs).
    const SubmitStatus status = enqueue(node, node, {});
    if (status != SubmitStatus::Ok) {
        node->discard();
        delete node;
        throw_not_running(status);
    }
}

}  // namespace pyb
