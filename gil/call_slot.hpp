// pybridge/gil/call_slot.hpp — internal: the per-host-thread hand-off of synchronous calls.
//
// Interpreter::call() blocks its host thread until the call is done, so the call can live
// on that thread's stack and be handed over through a slot the thread owns: one cache line
// that only its owner writes (the call's address, then a sequence number) and that the
// interpreter thread only reads, comparing the sequence number with the last one it served.
// A round trip then moves the slot line and the call's own lines between the two cores,
// where the shared queue also moves its head, its stub and the call's reference count
// (see call_queue.hpp).
//
// A fixed number of slots exists for the process (one interpreter per process); a thread
// claims one on its first call() and gives it back when it exits. Threads past the limit
// use the queue, as do calls with a deadline and everything submitted asynchronously.
//
// Ordering: before it runs slot calls, the interpreter thread runs every queued call that
// was pushed before it read the slots, so a thread's post() or submit() followed by its
// call() still run in that order (and so does anything that happened before the call()).
//
// Thread contract: claim/publish from the owning host thread; pending()/node() from the
// interpreter thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "call.hpp"

namespace pyb::detail {

struct alignas(64) CallSlot {
    std::atomic<std::uint64_t> seq{0};       // bumped by the owner once per call it hands over
    std::atomic<CallNode *> node{nullptr};   // the call, written before `seq`
    std::atomic<bool> owned{false};

    // Owner: hands `call` to the interpreter thread. seq_cst: pairs with the loop's sleep
    // check (store `sleeping`, then read the slots), as the queue's push does.
    void publish(CallNode *call) noexcept {
        node.store(call, std::memory_order_relaxed);
        seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
    }
};

constexpr int kCallSlots = 16;

// The slots: [0, call_slots_in_use()) were ever claimed; the loop scans only those.
CallSlot *call_slots() noexcept;
int call_slots_in_use() noexcept;

// This thread's slot, claimed on first use and given back when the thread exits; null if
// all are taken (the caller then uses the queue). Host threads.
CallSlot *this_thread_call_slot() noexcept;

}  // namespace pyb::detail
