// pybridge/gil/call_slot.hpp — internal: the per-host-thread hand-off of synchronous calls.
//
// Interpreter::call() blocks its host thread until the call is done, so nothing of the call
// needs the heap: it is handed over through a slot the thread owns — one cache line that
// only its owner writes and that the interpreter thread only reads — and answered in a reply
// on the caller's stack. The slot line carries everything the interpreter thread needs to
// start: the sequence number it compares with the last one it served, the function that
// runs the call, where to reply, and the callable itself when it is small and trivially
// copyable (a lambda capturing a few references: the bridge's calls); a larger one stays on
// the caller's stack and the slot points at it. The reply keeps its state word and a small
// result on one line. A round trip then moves two lines between the cores in the common
// case (the request, the reply) where the shared queue moves its head, its stub, and the
// call's header, callable, state and result lines (see call_queue.hpp).
//
// A fixed number of slots exists for the process (one interpreter per process); a thread
// claims one on its first call() and gives it back when it exits. Threads past the limit
// use the queue, as do calls with a deadline and everything submitted asynchronously.
//
// Ordering: before it runs slot calls, the interpreter thread runs every queued call that
// was pushed before it read the slots, so a thread's post() or submit() followed by its
// call() still run in that order (and so does anything that happened before the call()).
//
// Thread contract: this_thread_call_slot() and publishing from the owning host thread; the
// slot's fields from the interpreter thread after it read a new `seq` (acquire), until the
// reply is final.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "call.hpp"

namespace pyb::detail {

// Where the interpreter thread answers a slot call: on the caller's stack. The caller may
// free it the moment `state` is final, so the interpreter thread touches nothing after that.
struct SlotReply {
    alignas(64) std::atomic<std::uint32_t> state{kPending};
    std::exception_ptr error;
};

template <class R>
struct SlotReplyOf : SlotReply {
    std::optional<Stored<R>> value;  // on the state's line when small
};

struct CallSlot;
// Runs the slot's call, stores its result or error in the reply, and returns the final
// state (the loop publishes it). Never throws.
using SlotRun = CallState (*)(CallSlot &slot, Python py) noexcept;

constexpr std::size_t kSlotPayload = 40;

struct alignas(64) CallSlot {
    std::atomic<std::uint64_t> seq{0};  // bumped by the owner once per call it hands over
    // Written by the owner before `seq`, read by the interpreter thread after it.
    SlotRun run = nullptr;
    SlotReply *reply = nullptr;
    alignas(8) unsigned char payload[kSlotPayload];  // the callable, or a pointer to it

    // Owner: hands a call over. seq_cst: pairs with the loop's sleep check (store
    // its sleep word, then read the slots), as the queue's push does.
    void publish() noexcept { seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst); }
};
static_assert(sizeof(CallSlot) == 64, "a slot is one cache line");

// Small trivially copyable callables travel in the slot line itself.
template <class F>
constexpr bool kTravelsInSlot = std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F> &&
                                sizeof(F) <= kSlotPayload && alignof(F) <= 8;

template <class F>
F &slot_callable(CallSlot &slot) noexcept {
    if constexpr (kTravelsInSlot<F>) {
        return *std::launder(reinterpret_cast<F *>(slot.payload));
    } else {
        F *fn;
        std::memcpy(&fn, slot.payload, sizeof fn);
        return *fn;
    }
}

template <class F, class R>
CallState run_slot_callable(CallSlot &slot, Python py) noexcept {
    auto *reply = static_cast<SlotReplyOf<R> *>(slot.reply);
    try {
        if constexpr (std::is_void_v<R>) {
            slot_callable<F>(slot)(py);
            reply->value.emplace();
        } else {
            reply->value.emplace(slot_callable<F>(slot)(py));
        }
        return took_leftover_python_error(py, reply->error) ? kFailed : kSucceeded;
    } catch (...) {
        reply->error = failed_call_error(nullptr, py);
        return kFailed;
    }
}

// Owner: fills the slot with a callable that travels in it, made from `fn`.
template <class Fn, class R, class F>
void fill_slot_inline(CallSlot &slot, F &&fn, SlotReplyOf<R> &reply) {
    static_assert(kTravelsInSlot<Fn>);
    slot.run = &run_slot_callable<Fn, R>;
    slot.reply = &reply;
    new (slot.payload) Fn(std::forward<F>(fn));
}

// Owner: fills the slot with a pointer to `fn`, which the caller keeps alive (and does not
// touch) until the reply is final.
template <class Fn, class R>
void fill_slot_pointer(CallSlot &slot, Fn &fn, SlotReplyOf<R> &reply) noexcept {
    slot.run = &run_slot_callable<Fn, R>;
    slot.reply = &reply;
    Fn *p = &fn;
    std::memcpy(slot.payload, &p, sizeof p);
}

constexpr int kCallSlots = 16;

// The slots: [0, call_slots_in_use()) were ever claimed; the loop scans only those.
CallSlot *call_slots() noexcept;
int call_slots_in_use() noexcept;

// This thread's slot, claimed on first use and given back when the thread exits; null if
// all are taken (the caller then uses the queue). Host threads.
CallSlot *this_thread_call_slot() noexcept;
// The calling thread's slot if it has claimed one (never claims): its index, else -1.
int this_thread_slot_index() noexcept;

}  // namespace pyb::detail
