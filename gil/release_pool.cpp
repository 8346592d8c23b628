#include "release_pool_control.hpp"

#include <Python.h>

#include <algorithm>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
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
    std::atomic<bool> dirty{false};
    std::atomic<State> state{State::NotStarted};
    void (*wake)(void *) = nullptr;
    void *wake_ctx = nullptr;
    void (*close_hooks[8])() = {};  // guarded by mutex
};

Pool &pool() {
    static Pool *p = new Pool;
    return *p;
}

thread_local bool t_holds_gil = false;

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
    void (*wake)(void *) = nullptr;
    void *wake_ctx = nullptr;
    std::unique_lock<std::mutex> lock(p.mutex);
    if (p.state.load(std::memory_order_relaxed) == State::Closed) return;  // dropped
    // Only the first release after a drain wakes the loop; later ones ride along.
    if (p.queue.empty()) {
        wake = p.wake;
        wake_ctx = p.wake_ctx;
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
    if (wake) wake(wake_ctx);
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

void at_close(void (*fn)()) noexcept {
    Pool &p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    for (auto &hook : p.close_hooks) {
        if (hook == fn) return;
        if (!hook) {
            hook = fn;
            return;
        }
    }
}

static void decref_fn(void *o) { Py_DECREF(static_cast<PyObject *>(o)); }

void decref(void *py_object) noexcept {
    if (py_object) release({decref_fn, py_object});
}

namespace control {

void open(void (*wake)(void *), void *ctx) noexcept {
    Pool &p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    p.wake = wake;
    p.wake_ctx = ctx;
    p.state.store(State::Open, std::memory_order_relaxed);
}

void set_holds_gil(bool holds) noexcept { t_holds_gil = holds; }

bool pending() noexcept { return pool().dirty.load(std::memory_order_seq_cst); }

void drain(Python) noexcept {
    Pool &p = pool();
    // A release may queue more (a __del__ dropping a handle on another thread): loop.
    while (p.dirty.load(std::memory_order_acquire)) {
        // The queue and the spare buffer trade places: both keep their capacity, so a
        // steady stream of releases allocates nothing. (A drain nested in a release,
        // were there one, would find no spare and allocate: still correct.)
        std::vector<Release> batch;
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
        for (const Release &r : batch) r.fn(r.arg);
        batch.clear();
        if (batch.capacity() <= 4096) batch.swap(p.spare);  // a burst's huge buffer is let go
    }
}

void close(Python py) noexcept {
    Pool &p = pool();
    void (*hooks[8])() = {};
    {
        std::lock_guard<std::mutex> lock(p.mutex);
        std::copy(std::begin(p.close_hooks), std::end(p.close_hooks), hooks);
    }
    for (auto hook : hooks) {
        if (hook) hook();
    }
    drain(py);
    std::lock_guard<std::mutex> lock(p.mutex);
    p.state.store(State::Closed, std::memory_order_relaxed);
    p.queue.clear();  // raced in after the drain: dropped like any later release
    p.dirty.store(false, std::memory_order_relaxed);
    p.wake = nullptr;
    p.drained.notify_all();
}

size_t peak_queued() noexcept {
    Pool &p = pool();
    std::lock_guard<std::mutex> lock(p.mutex);
    return p.peak;
}

}  // namespace control
}  // namespace pyb::release_pool
