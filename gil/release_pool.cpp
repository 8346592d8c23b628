#include "release_pool_control.hpp"

#include "call_slot.hpp"

#include <Python.h>

#include <algorithm>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <new>
#include <vector>

namespace pyb::release_pool {
namespace {

enum class State { NotStarted, Open, Closed };

// Never destroyed: releases may arrive from static destructors at process exit.
struct Pool {
    std::mutex mutex;
    std::condition_variable drained;  // a releaser over the cap waits for the next drain
    std::vector<Release> queue;       // guarded by mutex
    std::vector<Release> spare;       // drain's: the last batch's buffer, kept so pushes do not allocate
    size_t peak = 0;                  // guarded by mutex
    size_t waiting = 0;               // guarded by mutex: releasers waiting on `drained`
    bool overflowing = false;         // guarded by mutex: a wait timed out; no more until a drain
    std::atomic<bool> dirty{false};             // release() queued something
    std::atomic<bool> deferred_pending{false};  // defer() pushed onto an empty stack
    std::atomic<State> state{State::NotStarted};
    // defer()'s lock-free stack (newest first), on its own line: host threads push to it.
    alignas(64) std::atomic<Deferred *> deferred{nullptr};
    char pad_[64 - sizeof(std::atomic<Deferred *>)];
    // Set by open(), cleared by close(); read without the mutex by defer().
    std::atomic<void (*)()> wake{nullptr};
    void (*close_hooks[8])() = {};  // guarded by mutex
    void (*exit_hooks[8])() = {};   // guarded by mutex
};

Pool &pool() {
    static Pool *p = new Pool;
    return *p;
}

thread_local bool t_holds_gil = false;

// A host thread that owns a call slot defers through a ring of its own: the push is two
// plain stores to lines it owns (no read-modify-write on a line the interpreter thread
// polls), and the interpreter thread reads the ring when it polls for work. One producer
// (the slot's owner; a slot changes owner only through the claim's synchronization), one
// consumer (the interpreter thread). Full: the shared stack takes the release.
struct alignas(64) ReleaseRing {
    static constexpr std::uint32_t kSize = 64;
    std::atomic<std::uint32_t> tail{0};  // written by the owner
    // The owner's last read of `head` (owner only; passes to the next owner with the slot,
    // so it is never older than the ring's wrap-around).
    std::uint32_t head_seen = 0;
    alignas(64) std::atomic<std::uint32_t> head{0};  // written by the interpreter thread
    alignas(64) std::atomic<Deferred *> entries[kSize] = {};
};
ReleaseRing g_rings[detail::kCallSlots];

bool ring_pending(const ReleaseRing &r) noexcept {
    return r.tail.load(std::memory_order_seq_cst) != r.head.load(std::memory_order_relaxed);
}

bool rings_pending() noexcept {
    for (int i = 0, n = detail::call_slots_in_use(); i < n; ++i) {
        if (ring_pending(g_rings[i])) return true;
    }
    return false;
}

// Interpreter thread: runs what the rings hold, oldest first.
void drain_rings(bool python_alive) noexcept {
    for (int i = 0, n = detail::call_slots_in_use(); i < n; ++i) {
        ReleaseRing &r = g_rings[i];
        std::uint32_t h = r.head.load(std::memory_order_relaxed);
        const std::uint32_t t = r.tail.load(std::memory_order_acquire);
        if (h == t) continue;
        for (; h != t; ++h) {
            // Emptied: a pusher that sees Closed after this drain and takes its entry back
            // (defer) finds nothing, instead of running it a second time.
            std::atomic<Deferred *> &entry = r.entries[h % ReleaseRing::kSize];
            Deferred *d = entry.load(std::memory_order_relaxed);
            entry.store(nullptr, std::memory_order_relaxed);  // before head's release store: the owner reuses it after
            d->run(d, python_alive);
        }
        r.head.store(h, std::memory_order_release);
    }
}

// close(), after the pool is Closed: runs what the rings hold, taking each entry with an
// exchange, as a pusher that saw Closed does with its own entry (defer): whichever of the
// two gets it runs it, once.
void drain_rings_at_close(bool python_alive) noexcept {
    for (int i = 0, n = detail::call_slots_in_use(); i < n; ++i) {
        ReleaseRing &r = g_rings[i];
        std::uint32_t h = r.head.load(std::memory_order_relaxed);
        const std::uint32_t t = r.tail.load(std::memory_order_seq_cst);  // pairs with the pusher's state check
        for (; h != t; ++h) {
            if (Deferred *d = r.entries[h % ReleaseRing::kSize].exchange(nullptr, std::memory_order_acq_rel))
                d->run(d, python_alive);
        }
        r.head.store(h, std::memory_order_release);
    }
}

// Owner: false if the ring is full (the caller takes the shared stack).
bool push_ring(ReleaseRing &r, Deferred *d) noexcept {
    const std::uint32_t t = r.tail.load(std::memory_order_relaxed);
    if (t - r.head_seen >= ReleaseRing::kSize) {
        r.head_seen = r.head.load(std::memory_order_acquire);
        if (t - r.head_seen >= ReleaseRing::kSize) return false;
    }
    r.entries[t % ReleaseRing::kSize].store(d, std::memory_order_relaxed);
    r.tail.store(t + 1, std::memory_order_seq_cst);  // publishes the entry; pairs with the loop's sleep check
    return true;
}

}  // namespace

const size_t kMaxQueued = 1u << 20;  // 16 MiB of queued releases
constexpr std::chrono::milliseconds kOverflowWait{1000};

namespace {

}  // namespace

bool on_interpreter_thread() noexcept { return t_holds_gil; }

void release(Release r) noexcept {
    if (t_holds_gil) {
        r.fn(r.arg);
        return;
    }
    Pool &p = pool();
    void (*wake)() = nullptr;
    std::unique_lock<std::mutex> lock(p.mutex);
    if (p.state.load(std::memory_order_relaxed) == State::Closed) return;  // dropped
    // Only the first release after a drain wakes the loop; later ones ride along.
    if (p.queue.empty()) {
        wake = p.wake.load(std::memory_order_acquire);
    }
    try {
        p.queue.push_back(r);
    } catch (...) {
        return;  // out of memory: leak this one reference rather than crash
    }
    p.peak = std::max(p.peak, p.queue.size());
    p.dirty.store(true, std::memory_order_seq_cst);  // pairs with the loop's sleep check
    // Bounded: past the cap, the releasing thread waits for the interpreter's next drain
    // (before its next call, or when idle) — but never while it holds the GIL (the drain
    // needs it), and at most kOverflowWait per drain cycle: if the interpreter thread is
    // itself waiting for this thread, waiting longer would deadlock, so the queue then
    // grows past the cap until the next drain.
    const bool over = p.queue.size() >= kMaxQueued && p.state.load(std::memory_order_relaxed) == State::Open &&
                      !p.overflowing && !PyGILState_Check();
    lock.unlock();
    if (wake) wake();
    if (over) {
        lock.lock();
        ++p.waiting;
        const bool drained = p.drained.wait_for(lock, kOverflowWait, [&] {
            return p.queue.size() < kMaxQueued || p.state.load(std::memory_order_relaxed) != State::Open;
        });
        --p.waiting;
        if (!drained) p.overflowing = true;
    }
}

namespace {

// Runs a taken stack in the order it was pushed.
void run_deferred(Deferred *newest_first, bool python_alive) noexcept {
    Deferred *oldest_first = nullptr;
    while (newest_first) {
        Deferred *next = newest_first->next;
        newest_first->next = oldest_first;
        oldest_first = newest_first;
        newest_first = next;
    }
    while (oldest_first) {
        Deferred *next = oldest_first->next;  // read first: run() may free the node
        oldest_first->run(oldest_first, python_alive);
        oldest_first = next;
    }
}

}  // namespace

void defer(Deferred *d) noexcept {
    if (t_holds_gil) {
        d->run(d, true);
        return;
    }
    Pool &p = pool();
    if (const int slot = detail::this_thread_slot_index();
        slot >= 0 && p.state.load(std::memory_order_acquire) == State::Open && push_ring(g_rings[slot], d)) {
        if (void (*wake)() = p.wake.load(std::memory_order_acquire)) wake();
        // Stopped meanwhile: close() ran the ring after Closed, or this takes the entry back
        // (the push's seq_cst tail store, then this load; close() stores Closed, then loads
        // the tail: one of the two sees the other).
        if (p.state.load(std::memory_order_seq_cst) == State::Closed) {
            ReleaseRing &r = g_rings[slot];
            const std::uint32_t mine = r.tail.load(std::memory_order_relaxed) - 1;
            if (Deferred *own = r.entries[mine % ReleaseRing::kSize].exchange(nullptr, std::memory_order_acq_rel))
                own->run(own, false);
        }
        return;
    }
    Deferred *head = p.deferred.load(std::memory_order_relaxed);
    do {
        d->next = head;
    } while (!p.deferred.compare_exchange_weak(head, d, std::memory_order_seq_cst, std::memory_order_relaxed));
    // Only a push onto an empty stack raises the flag the loop polls and wakes the loop: a
    // later push lands in the same stack before it is taken (a drain that took the stack
    // first left it empty). The loop polls the flag, not the stack: a poller hammering the
    // line this compare-exchange needs looked slower in one bench/op A/B (within the VM's
    // noise in the next), and the flag costs nothing.
    if (!head) {
        p.deferred_pending.store(true, std::memory_order_seq_cst);  // pairs with the loop's sleep check
        if (void (*wake)() = p.wake.load(std::memory_order_acquire)) wake();
    }
    // Stopped: close() took the stack after setting Closed, or this sees Closed and takes it.
    if (p.state.load(std::memory_order_seq_cst) == State::Closed)
        run_deferred(p.deferred.exchange(nullptr, std::memory_order_seq_cst), false);
}

namespace {
void add_hook(void (*(&hooks)[8])(), void (*fn)()) noexcept {
    Pool &p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    for (auto &hook : hooks) {
        if (hook == fn) return;
        if (!hook) {
            hook = fn;
            return;
        }
    }
}

// Runs a copy of `hooks` taken under the mutex (a hook may register another).
void run_hooks(void (*(&hooks)[8])()) noexcept {
    void (*copy[8])() = {};
    {
        std::lock_guard<std::mutex> lock(pool().mutex);
        std::copy(std::begin(hooks), std::end(hooks), copy);
    }
    for (auto hook : copy) {
        if (hook) hook();
    }
}
}  // namespace

void at_close(void (*fn)()) noexcept { add_hook(pool().close_hooks, fn); }
void at_python_exit(void (*fn)()) noexcept { add_hook(pool().exit_hooks, fn); }

static void decref_fn(void *o) { Py_DECREF(static_cast<PyObject *>(o)); }

void decref(void *py_object) noexcept {
    if (py_object) release({decref_fn, py_object});
}

namespace control {

void open(void (*wake)()) noexcept {
    Pool &p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    p.wake.store(wake, std::memory_order_release);
    p.state.store(State::Open, std::memory_order_relaxed);
}

void set_holds_gil(bool holds) noexcept { t_holds_gil = holds; }

bool pending() noexcept {
    const Pool &p = pool();
    return p.dirty.load(std::memory_order_seq_cst) || p.deferred_pending.load(std::memory_order_seq_cst) ||
           rings_pending();
}

void drain_before_calls(Python py) noexcept {
    // pending() polls flags only (cheap enough for the loop's spin); before calls run, the
    // stack's head is read too, so a push whose flag is not raised yet is not overtaken.
    if (pending() || pool().deferred.load(std::memory_order_seq_cst) != nullptr) drain(py);
}

void drain(Python) noexcept {
    Pool &p = pool();
    // A release may queue more (a __del__ dropping a handle on another thread): loop. Once
    // at least: drain_before_calls may call it for a push whose flag is not raised yet.
    do {
        // The queue and the spare buffer trade places: both keep their capacity, so a
        // steady stream of releases allocates nothing. (A drain nested in a release,
        // were there one, would find no spare and allocate: still correct.) The mutex is
        // taken only when release() queued something.
        std::vector<Release> batch;
        const bool queued = p.dirty.load(std::memory_order_acquire);
        if (queued) {
            batch.swap(p.spare);
            bool notify;
            {
                std::lock_guard<std::mutex> lock(p.mutex);
                batch.swap(p.queue);
                p.dirty.store(false, std::memory_order_relaxed);
                p.overflowing = false;
                notify = p.waiting > 0;
            }
            if (notify) p.drained.notify_all();
        }
        // The rings before the stack: a thread's releases overflow from its ring to the
        // stack, never back, so its own order holds.
        drain_rings(true);
        Deferred *deferred = nullptr;
        if (p.deferred_pending.load(std::memory_order_relaxed) ||
            p.deferred.load(std::memory_order_seq_cst) != nullptr) {
            // Lowered before the stack is taken: a push the exchange misses raises it again.
            // (The head is read too: a push onto a stack whose first pusher has not raised
            // the flag yet must still be seen here; see drain_before_calls.)
            p.deferred_pending.store(false, std::memory_order_seq_cst);
            deferred = p.deferred.exchange(nullptr, std::memory_order_seq_cst);
        }
        for (const Release &r : batch) r.fn(r.arg);
        run_deferred(deferred, true);
        if (queued) {
            batch.clear();
            if (batch.capacity() <= 4096) batch.swap(p.spare);  // a burst's huge buffer is let go
        }
    } while (pending());
}

void close(Python py) noexcept {
    Pool &p = pool();
    run_hooks(p.close_hooks);
    drain(py);
    {
        std::lock_guard<std::mutex> lock(p.mutex);
        p.state.store(State::Closed, std::memory_order_seq_cst);
        p.queue.clear();  // raced in after the drain: dropped like any later release
        p.dirty.store(false, std::memory_order_relaxed);
        p.wake.store(nullptr, std::memory_order_relaxed);
        p.drained.notify_all();
    }
    // Records pushed between the drain above and Closed still run with Python (the GIL is
    // held here), outside the mutex: a release may queue more, which is then dropped.
    drain_rings_at_close(true);
    run_deferred(p.deferred.exchange(nullptr, std::memory_order_seq_cst), true);
}

void run_python_exit_hooks() noexcept { run_hooks(pool().exit_hooks); }

void abandon_after_fork() noexcept {
    Pool &p = pool();
    // The parent's threads may have held these at the fork: re-made in place.
    new (&p.mutex) std::mutex();
    new (&p.drained) std::condition_variable();
    p.waiting = 0;
    p.state.store(State::Closed, std::memory_order_seq_cst);
    p.wake.store(nullptr, std::memory_order_relaxed);
}

size_t peak_queued() noexcept {
    Pool &p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    return p.peak;
}

}  // namespace control
}  // namespace pyb::release_pool
