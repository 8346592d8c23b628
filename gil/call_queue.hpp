// pybridge/gil/call_queue.hpp — internal: the interpreter's queue of calls.
//
// An intrusive multi-producer single-consumer queue (Dmitry Vyukov's): a push is one
// atomic exchange plus one store, whatever the number of host threads, so there is no
// lock to convoy on and no allocation (the call node is the link). FIFO in the order the
// exchanges happened. A pre-linked chain pushes as one unit (batch submission).
//
// Thread contract: push() from any thread; pop() and empty() only from the consumer (the
// interpreter thread).
#pragma once

#include "call.hpp"
#include "futex.hpp"

namespace pyb::detail {

class CallQueue {
public:
    CallQueue() : head_(&stub_), tail_(&stub_) {}
    CallQueue(const CallQueue &) = delete;
    CallQueue &operator=(const CallQueue &) = delete;

    // Appends first -> ... -> last (already linked; last->next is null).
    void push(QueueLink *first, QueueLink *last) noexcept {
        last->next.store(nullptr, std::memory_order_relaxed);
        // seq_cst: the loop's sleep check (store its sleep word, then read head_) pairs with it.
        QueueLink *prev = head_.exchange(last, std::memory_order_seq_cst);
        prev->next.store(first, std::memory_order_release);
    }

    // The oldest call, or null if the queue is empty. A producer caught between its
    // exchange and its link store is waited for (a few instructions).
    CallNode *pop() noexcept {
        for (;;) {
            QueueLink *tail = tail_;
            QueueLink *next = tail->next.load(std::memory_order_acquire);
            if (tail == &stub_) {
                if (!next) {
                    if (head_.load(std::memory_order_acquire) == &stub_) return nullptr;
                    cpu_relax_wait();
                    continue;
                }
                tail_ = next;
                tail = next;
                next = next->next.load(std::memory_order_acquire);
            }
            if (next) {
                tail_ = next;
                return static_cast<CallNode *>(tail);
            }
            if (tail != head_.load(std::memory_order_acquire)) {
                cpu_relax_wait();  // a push is half done
                continue;
            }
            push(&stub_, &stub_);  // tail is the last real node: put the stub behind it
            next = tail->next.load(std::memory_order_acquire);
            if (next) {
                tail_ = next;
                return static_cast<CallNode *>(tail);
            }
            cpu_relax_wait();
        }
    }

    // The last call pushed (or being pushed), or stub() — then the queue is empty, or a call
    // pushed while pop() put the stub back sits before it (see at_stub()). Popping up to it
    // runs everything pushed before this read. Consumer only.
    const QueueLink *newest() const noexcept { return head_.load(std::memory_order_acquire); }
    const QueueLink *stub() const noexcept { return &stub_; }
    // The next pop() would start at the stub: every call pushed before the stub went back
    // in has been popped. Consumer only.
    bool at_stub() const noexcept { return tail_ == &stub_; }

    // No call queued and none being pushed. Consumer only.
    bool empty() const noexcept {
        return tail_ == &stub_ && head_.load(std::memory_order_seq_cst) == &stub_;
    }

private:
    static void cpu_relax_wait() noexcept { futex::cpu_relax(); }

    alignas(64) std::atomic<QueueLink *> head_;  // producers
    alignas(64) QueueLink *tail_;                // consumer
    // Its own line: a producer linking behind the stub (the usual case with an idle queue)
    // writes stub_.next, which would otherwise take the consumer's tail_ line with it.
    alignas(64) QueueLink stub_;
};

}  // namespace pyb::detail
