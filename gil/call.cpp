#include "call.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "after_fork.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "futex.hpp"
#include "interpreter.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define PYB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PYB_ASAN 1
#endif
#endif
#ifdef PYB_ASAN
#include <sanitizer/asan_interface.h>
#define PYB_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define PYB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define PYB_POISON(p, n) ((void)(p), (void)(n))
#define PYB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace pyb::detail {
namespace {

using Clock = std::chrono::steady_clock;

// At most one spinning host thread per core. (cores - 1, leaving the interpreter thread a
// core of its own, measured worse on 2 cores: the hosts past the limit sleep, and the
// interpreter thread then pays a futex wake per call.)
const int kMaxSpinners = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
std::atomic<int> g_spinners{0};

// Per host thread: how long to spin before sleeping. Grows while results arrive within
// the spin, shrinks while they do not (then spinning only burns a core).
constexpr std::int64_t kMinSpinNs = 5'000, kMaxSpinNs = 50'000;
thread_local std::int64_t t_spin_ns = 20'000;

// Spins on `state` until final or the per-thread budget runs out. Past the spinner limit
// it returns at once: on a small machine extra spinners (or yielders) only take CPU from
// the interpreter thread, which measured slower than sleeping on the futex.
std::atomic<HostWait> g_host_wait{HostWait::Auto};

bool spin_until_final(const std::atomic<std::uint32_t> &state) {
    const HostWait policy = g_host_wait.load(std::memory_order_relaxed);
    if (policy == HostWait::Block) return false;
    if (g_spinners.fetch_add(1, std::memory_order_relaxed) >= kMaxSpinners) {
        g_spinners.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    if (policy == HostWait::Spin) {
        while (!is_final(state.load(std::memory_order_acquire))) futex::cpu_relax();
        g_spinners.fetch_sub(1, std::memory_order_relaxed);
        return true;
    }
    const auto until = Clock::now() + std::chrono::nanoseconds(t_spin_ns);
    bool done = false;
    for (unsigned i = 1;; ++i) {
        if (is_final(state.load(std::memory_order_acquire))) {
            done = true;
            break;
        }
        futex::cpu_relax();
        if ((i & 63) == 0 && Clock::now() >= until) break;
    }
    g_spinners.fetch_sub(1, std::memory_order_relaxed);
    // Grow fast, shrink slowly: a floor well above one round trip keeps both sides from
    // settling into sleeping on every call.
    t_spin_ns = done ? std::min(kMaxSpinNs, t_spin_ns * 2) : std::max(kMinSpinNs, t_spin_ns - t_spin_ns / 4);
    return done;
}

// Sets the waiter bit and sleeps until the state word changes; false once final.
bool sleep_once(std::atomic<std::uint32_t> &state, std::int64_t timeout_ns) {
    std::uint32_t s = state.load(std::memory_order_acquire);
    if (is_final(s)) return false;
    if (!(s & kWaiterBit)) {
        if (!state.compare_exchange_weak(s, s | kWaiterBit, std::memory_order_acq_rel)) return true;
        s |= kWaiterBit;
    }
    futex::wait(state, s, timeout_ns);
    return true;
}

void check_not_interpreter_thread() {
    // A call the parent made before this process forked never finishes here.
    if (in_forked_child()) throw InterpreterStopped(kForkedChildMessage);
    if (Interpreter::on_interpreter_thread()) {
        throw WouldDeadlock(
            "pybridge: waiting on the interpreter thread for a call queued behind the current one "
            "would deadlock; submit from a host thread, or call the work directly");
    }
}

// The node cache: blocks of kBlock bytes, 64-aligned, kept per thread (a node is cached
// by the thread that frees it: usually the host that waited for it).
constexpr std::size_t kBlock = 384, kCached = 32;
struct NodeCache {
    void *head = nullptr;  // each free block's first word links to the next
    std::size_t count = 0;
    ~NodeCache() {
        while (head) {
            void *next = *static_cast<void **>(head);
            ::operator delete(head, std::align_val_t{64});
            head = next;
        }
        count = kCached;  // a node freed later in this thread's exit bypasses the cache
    }
};
thread_local NodeCache t_nodes;

}  // namespace

void *allocate_call_node(std::size_t size, std::size_t align) {
    if (size > kBlock || align > 64) return ::operator new(size, std::align_val_t{align});
    if (void *block = t_nodes.head) {
        t_nodes.head = *static_cast<void **>(block);
        --t_nodes.count;
        PYB_UNPOISON(block, kBlock);
        return block;
    }
    return ::operator new(kBlock, std::align_val_t{64});
}

void free_call_node(void *node, std::size_t size, std::size_t align) noexcept {
    if (size > kBlock || align > 64 || t_nodes.count >= kCached) {
        ::operator delete(node, std::align_val_t{size > kBlock || align > 64 ? align : 64});
        return;
    }
    *static_cast<void **>(node) = t_nodes.head;
    t_nodes.head = node;
    ++t_nodes.count;
    // Under ASan a cached node stays "freed": a use after release is still reported.
    PYB_POISON(static_cast<char *>(node) + sizeof(void *), kBlock - sizeof(void *));
}

namespace {
thread_local bool t_woke_sleeper = false;
}

bool finish_state(std::atomic<std::uint32_t> &state, CallState final_state) noexcept {
    std::uint32_t s = state.load(std::memory_order_relaxed);
    do {
        if (is_final(s)) return false;
    } while (!state.compare_exchange_weak(s, final_state, std::memory_order_acq_rel));
    if (s & kWaiterBit) {
        futex::wake(state, INT32_MAX);  // the address only: the word itself may be gone by now
        t_woke_sleeper = true;
    }
    return true;
}

bool CallNode::finish(CallState final_state) noexcept { return finish_state(state, final_state); }

bool CallNode::take_woke_sleeper() noexcept {
    const bool woke = t_woke_sleeper;
    t_woke_sleeper = false;
    return woke;
}

bool CallNode::start_running() noexcept {
    return !claimed.load(std::memory_order_relaxed) && !claimed.exchange(true, std::memory_order_acq_rel);
}

bool CallNode::cancel_queued(std::exception_ptr why) noexcept {
    // Claim the call first (the loop then never starts it), then publish the error with
    // the final state.
    if (!start_running()) return false;
    error = std::move(why);
    finish(kCancelled);
    return true;
}

void wait_final(const std::atomic<std::uint32_t> &state) {
    auto &st = const_cast<std::atomic<std::uint32_t> &>(state);
    if (is_final(st.load(std::memory_order_acquire))) return;
    check_not_interpreter_thread();
    if (spin_until_final(st)) return;
    while (sleep_once(st, -1)) {
    }
}

void CallNode::wait() const { wait_final(state); }

void set_host_wait(HostWait policy) noexcept { g_host_wait.store(policy, std::memory_order_relaxed); }
HostWait host_wait() noexcept { return g_host_wait.load(std::memory_order_relaxed); }

bool CallNode::wait_for(std::int64_t timeout_ns) const {
    auto &st = const_cast<std::atomic<std::uint32_t> &>(state);
    if (is_final(st.load(std::memory_order_acquire))) return true;
    check_not_interpreter_thread();
    const auto now = Clock::now();
    if (timeout_ns >= std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::time_point::max() - now).count()) {
        wait();  // beyond the clock's range: no limit (and no signed overflow)
        return true;
    }
    const auto until = now + std::chrono::nanoseconds(timeout_ns);
    for (;;) {
        const std::int64_t left = std::chrono::duration_cast<std::chrono::nanoseconds>(until - Clock::now()).count();
        if (left <= 0) return is_final(st.load(std::memory_order_acquire));
        if (!sleep_once(st, left)) return true;
    }
}

}  // namespace pyb::detail
