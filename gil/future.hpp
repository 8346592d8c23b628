// pybridge/gil/future.hpp — the result of one call submitted to the interpreter thread.
//
// Thread contract: a Future is move-only and owned by one thread at a time; move it to
// hand it over. get()/wait() block the calling host thread: they spin for a few
// microseconds (adaptively: only while spinning pays off and a core is free) and then
// sleep on a futex. Called on the interpreter thread, waiting for a call that has not
// finished throws WouldDeadlock at once (it could only run after the current call).
// cancel() may be called from any thread that owns the Future.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

#include "call.hpp"
#include "errors.hpp"

namespace pyb {

enum class CancelResult {
    Cancelled,     // it had not started and never will; get() throws Cancelled
    Interrupting,  // it is running: an exception is raised into its Python code at the next
                   // bytecode boundary (C-level work, e.g. one torch op, finishes first);
                   // get() throws Cancelled if that stopped it, else returns its result
    TooLate,       // it had already finished; get() gives its outcome
};

namespace detail {
// Interrupts `call` if it is the one running now (interrupt.cpp).
void interrupt_running_call(CallNode *call, bool deadline) noexcept;
}  // namespace detail

// A thread-safe way to cancel one call from any thread: copyable, and valid after the
// Future itself was consumed or destroyed (it keeps the call's record alive).
class Canceller {
public:
    Canceller() = default;
    explicit Canceller(detail::CallNode *node) noexcept : node_(node) {
        if (node_) node_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    Canceller(const Canceller &o) noexcept : Canceller(o.node_) {}
    Canceller &operator=(Canceller o) noexcept {
        std::swap(node_, o.node_);
        return *this;
    }
    ~Canceller() {
        if (node_) node_->release();
    }
    // See CancelResult. TooLate for an empty Canceller.
    CancelResult cancel() const {
        if (!node_) return CancelResult::TooLate;
        if (node_->cancel_queued(std::make_exception_ptr(Cancelled("pybridge: call cancelled before it ran")))) {
            return CancelResult::Cancelled;
        }
        if (detail::is_final(node_->state.load(std::memory_order_acquire))) return CancelResult::TooLate;
        detail::interrupt_running_call(node_, /*deadline=*/false);
        return detail::is_final(node_->state.load(std::memory_order_acquire)) ? CancelResult::TooLate
                                                                              : CancelResult::Interrupting;
    }

private:
    detail::CallNode *node_ = nullptr;
};

template <class T>
class Future {
public:
    Future() = default;
    explicit Future(detail::ResultNode<T> *node) noexcept : node_(node) {}
    Future(Future &&o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
    Future &operator=(Future &&o) noexcept {
        if (this != &o) {
            reset();
            node_ = std::exchange(o.node_, nullptr);
        }
        return *this;
    }
    Future(const Future &) = delete;
    Future &operator=(const Future &) = delete;
    ~Future() { reset(); }

    // False for a default-constructed or moved-from Future, and after get().
    bool valid() const noexcept { return node_ != nullptr; }

    // The call finished (succeeded, failed or was cancelled). Never blocks.
    bool ready() const noexcept {
        return node_ && detail::is_final(node_->state.load(std::memory_order_acquire));
    }

    void wait() const { checked()->wait(); }

    // Waits at most `timeout`; returns ready(). Throws Error for a NaN timeout.
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
        // Saturating: hours::max() must not overflow into a negative (instant) timeout.
        const double ns = std::chrono::duration<double, std::nano>(timeout).count();
        if (ns != ns) throw Error("pybridge: wait_for: the timeout is NaN");
        return checked()->wait_for(ns >= 9.2e18 ? INT64_MAX : static_cast<std::int64_t>(ns < 0 ? 0 : ns));
    }

    // Waits, then returns the result or throws the call's error (PythonError, Cancelled,
    // DeadlineExceeded, InterpreterStopped, or whatever the callable threw). Once: the
    // Future is invalid afterwards.
    T get() {
        detail::ResultNode<T> *n = checked();
        n->wait();
        Holder hold{std::exchange(node_, nullptr)};
        if ((n->state.load(std::memory_order_acquire) & detail::kStateMask) != detail::kSucceeded) {
            // Taken out of the node: the exception then lives only on this thread.
            std::exception_ptr error = std::move(n->error);
            std::rethrow_exception(error);
        }
        if constexpr (!std::is_void_v<T>) return std::move(*n->value);
    }

    // Cancels the call; see CancelResult. Idempotent. To cancel from another thread while
    // this one waits in get(), use canceller(): a Future is used by one thread at a time.
    CancelResult cancel() { return Canceller(checked()).cancel(); }

    // A copyable handle that can cancel this call from any thread.
    Canceller canceller() const { return Canceller(checked()); }

private:
    struct Holder {
        detail::ResultNode<T> *n;
        ~Holder() { n->release(); }
    };
    detail::ResultNode<T> *checked() const {
        if (!node_) throw Error("pybridge: this Future holds no call (moved from, or get() already called)");
        return node_;
    }
    void reset() noexcept {
        if (node_) std::exchange(node_, nullptr)->release();
    }

    detail::ResultNode<T> *node_ = nullptr;
};

}  // namespace pyb
