// pybridge/gil/call.hpp — internal: one queued call, shared by the queue and its Future.
//
// A call is one heap node holding the callable, the result slot and a 32-bit state word
// that host threads wait on (spin, then futex). It is linked into the interpreter's queue
// intrusively, so queueing allocates nothing more. Two references: the queue's (dropped by
// the interpreter thread after the call ran or was skipped) and the Future's.
#pragma once

#include <atomic>
#include <cstddef>
#include <new>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "python_token.hpp"

namespace pyb {
enum class HostWait;  // config.hpp
}

namespace pyb::detail {

// A queue link; CallNode derives from it, and the queue has one stub link of its own.
struct QueueLink {
    std::atomic<QueueLink *> next{nullptr};
};

// The state word: a base state in the low bits, plus a bit a sleeping waiter sets. Whether
// a call has started is the `claimed` flag's business, not this word's.
enum CallState : std::uint32_t {
    kPending = 0,  // queued or running
    kSucceeded = 2,
    kFailed = 3,     // error holds the exception
    kCancelled = 4,  // never ran; error holds Cancelled / DeadlineExceeded / InterpreterStopped
    kStateMask = 0xff,
    kWaiterBit = 1u << 31,  // someone sleeps on the futex: the completer must wake it
};

inline bool is_final(std::uint32_t s) { return (s & kStateMask) >= kSucceeded; }

// Moves `state` to `final_state` and wakes a sleeping waiter. Returns false if it was
// already final. Whoever waits may free the word the moment it is final.
bool finish_state(std::atomic<std::uint32_t> &state, CallState final_state) noexcept;

// Waits until `state` is final: host threads spin briefly, then sleep on the futex. Throws
// WouldDeadlock on the interpreter thread (the call could only run after us).
void wait_final(const std::atomic<std::uint32_t> &state);

// InterpreterConfig::host_wait for every host thread of the process (set at start). Any thread.
void set_host_wait(HostWait policy) noexcept;
HostWait host_wait() noexcept;

// Call nodes come from a per-thread cache of 64-byte-aligned blocks (call.cpp): no
// malloc on the hot path, and the cache line layout below holds.
void *allocate_call_node(std::size_t size, std::size_t align);
void free_call_node(void *node, std::size_t size, std::size_t align) noexcept;

struct CallNode : QueueLink {
    static void *operator new(std::size_t size, std::align_val_t align) {
        return allocate_call_node(size, static_cast<std::size_t>(align));
    }
    static void operator delete(void *node, std::size_t size, std::align_val_t align) noexcept {
        free_call_node(node, size, static_cast<std::size_t>(align));
    }

    std::atomic<std::uint32_t> refs{2};
    // Set once, by whichever comes first: the loop starting the call or cancel_queued().
    std::atomic<bool> claimed{false};
    std::atomic<bool> interrupt_requested{false};  // cancel()/deadline while running
    bool is_deadline_interrupt = false;            // written before interrupt_requested
    bool fire_and_forget = false;                  // post(): errors go to the error sink
    std::int64_t deadline_ns = 0;                  // steady_clock time, in ns; 0: none
    std::exception_ptr error;

    // The word waiters spin and sleep on, alone on its cache line: the interpreter thread
    // writes it once per call (finish), so a spinning host does not pull the line away
    // between the call's other writes (the claim, the result, the refcount). Between cores
    // that share no cache, each such steal is a cross-die transfer.
    alignas(64) std::atomic<std::uint32_t> state{kPending};

private:
    char state_line_padding_[64 - sizeof(std::atomic<std::uint32_t>)];  // the result starts on the next line

public:
    virtual ~CallNode() = default;
    // Runs the callable on the interpreter thread: stores the result or `error`, and
    // destroys the callable (its captures are released with the GIL). Returns the final
    // state for finish(), which the caller publishes once it is done with the call (a
    // call on a host thread's stack may be gone the moment it is final). Never throws.
    virtual CallState invoke(Python py) noexcept = 0;
    // The callable will not run: destroy it. Interpreter thread (or host before queueing).
    virtual void discard() noexcept = 0;

    void release() noexcept {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // Moves to a final state and wakes a sleeping waiter. Returns false if already final.
    bool finish(CallState final_state) noexcept;
    // True if a finish() on this thread woke a sleeping waiter since the last time asked.
    static bool take_woke_sleeper() noexcept;
    // Claims a queued call for running; false if it was cancelled meanwhile.
    bool start_running() noexcept;
    // Queued -> Cancelled with `why`; false if it already started or finished.
    bool cancel_queued(std::exception_ptr why) noexcept;

    // Waits until final. Host threads spin briefly, then sleep on the futex. Throws
    // WouldDeadlock on the interpreter thread (the call could only run after us).
    void wait() const;
    // Waits at most `timeout_ns`; returns whether the call is final.
    bool wait_for(std::int64_t timeout_ns) const;
};

template <class R>
using Stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

template <class R>
struct ResultNode : CallNode {
    std::optional<Stored<R>> value;
};

// The exception being handled by `call`, made safe to leave the interpreter thread: a
// pybind11 error_already_set (which holds Python objects) becomes a PythonError, and the
// interrupt that cancel()/a deadline raised becomes Cancelled/DeadlineExceeded. `call` is
// null for a call that cannot be cancelled (call_slot.hpp).
std::exception_ptr failed_call_error(const CallNode *call, Python) noexcept;

// After a callable returned normally: an exception it left set in Python's error indicator
// (a bug in the callable; CPython reports the same as a SystemError) becomes the call's
// error instead of failing the next call. True if there was one.
bool took_leftover_python_error(Python, std::exception_ptr &error) noexcept;

template <class F, class R>
struct CallImpl final : ResultNode<R> {
    std::optional<F> fn;
    explicit CallImpl(F f) : fn(std::move(f)) {}

    CallState invoke(Python py) noexcept override {
        bool ok = true;
        try {
            if constexpr (std::is_void_v<R>) {
                (*fn)(py);
                this->value.emplace();
            } else {
                this->value.emplace((*fn)(py));
            }
            ok = !took_leftover_python_error(py, this->error);
        } catch (...) {
            this->error = failed_call_error(this, py);
            ok = false;
        }
        // Published (by the caller's finish()) only after the catch block ended: the waiter
        // then owns the only live reference to the exception, with no refcount shared
        // across threads.
        fn.reset();
        return ok ? kSucceeded : kFailed;
    }
    void discard() noexcept override { fn.reset(); }
};

}  // namespace pyb::detail
