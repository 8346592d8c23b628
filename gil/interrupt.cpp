#include "interrupt.hpp"

#include <Python.h>

#include <csignal>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "futex.hpp"
#include "future.hpp"
#include "native_module.hpp"

namespace pyb::detail {
namespace interrupt {
namespace {

using Clock = std::chrono::steady_clock;

PyObject *g_interrupt_type = nullptr;  // pybridge.CallInterrupted, never freed
std::atomic<CallNode *> g_running{nullptr};
char g_slot_call_marker;  // its address stands for "a slot call runs"; never read
CallNode *const kSlotCallRunning = reinterpret_cast<CallNode *>(&g_slot_call_marker);
unsigned long g_interpreter_thread_id = 0;
std::atomic<bool> g_async_exc_sent{false};  // the loop clears a leftover one after the call

std::mutex g_mutex;  // guards everything below
bool g_python_alive = false;
std::multimap<Clock::time_point, CallNode *> g_deadlines;  // each holds a reference
std::vector<CallNode *> g_interrupts;                      // each holds a reference
std::thread g_watchdog;
bool g_watchdog_stop = false;

// Wakes the watchdog: bumped by deadlines, interrupt requests, SIGINT and close().
std::atomic<std::uint32_t> g_watch_seq{0};
std::atomic<std::uint32_t> g_sigint_pending{0};
std::atomic<bool> g_stop_pending{false}, g_stop_sent{false};

bool g_route_sigint = false;
struct sigaction g_previous_sigint {};

// Raises `exc_type` in the interpreter thread's running call, if `call` (or, for null,
// any call) is still running. Watchdog thread only. The watchdog takes the GIL for this
// (the only pybridge thread besides the interpreter thread that does; host threads never
// do): CPython 3.11 arms its eval breaker for an async exception unconditionally, but not
// for a pending call added from another thread. Waits at most one switch interval (5 ms).
void deliver(CallNode *call, PyObject *exc_type) {
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (!g_python_alive) return;
    }
    // close() releases the GIL while it joins us, and finalizes only after that.
    PyGILState_STATE gil = PyGILState_Ensure();
    CallNode *running = g_running.load(std::memory_order_acquire);
    if (running && (!call || running == call) &&
        (running == kSlotCallRunning || !is_final(running->state.load(std::memory_order_acquire)))) {
        g_async_exc_sent.store(true, std::memory_order_release);
        PyThreadState_SetAsyncExc(g_interpreter_thread_id, exc_type);
    }
    PyGILState_Release(gil);
}

void wake_watchdog() {
    g_watch_seq.fetch_add(1, std::memory_order_release);
    futex::wake(g_watch_seq, 1);
}

extern "C" void on_sigint(int) {
    // Async-signal-safe: atomics and a futex wake.
    g_sigint_pending.store(1, std::memory_order_relaxed);
    wake_watchdog();
}

void watchdog_main() {
    for (;;) {
        const std::uint32_t seq = g_watch_seq.load(std::memory_order_acquire);
        std::vector<CallNode *> expired, interrupts;
        std::int64_t sleep_ns = -1;
        bool stop = false;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            stop = g_watchdog_stop;
            const auto now = Clock::now();
            while (!g_deadlines.empty() && (stop || g_deadlines.begin()->first <= now)) {
                expired.push_back(g_deadlines.begin()->second);
                g_deadlines.erase(g_deadlines.begin());
            }
            interrupts.swap(g_interrupts);
            if (!g_deadlines.empty()) {
                sleep_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(g_deadlines.begin()->first - now).count();
            }
        }
        if (stop) {
            for (CallNode *c : expired) c->release();
            for (CallNode *c : interrupts) c->release();
            return;
        }
        if (g_sigint_pending.exchange(0, std::memory_order_acq_rel)) deliver(nullptr, PyExc_KeyboardInterrupt);
        if (g_stop_pending.exchange(false, std::memory_order_acq_rel)) deliver(nullptr, g_interrupt_type);
        for (CallNode *call : expired) {
            if (!call->cancel_queued(std::make_exception_ptr(
                    DeadlineExceeded("pybridge: call's deadline passed before it ran"))) &&
                !is_final(call->state.load(std::memory_order_acquire))) {
                if (!call->interrupt_requested.load(std::memory_order_acquire)) {
                    call->is_deadline_interrupt = true;
                    call->interrupt_requested.store(true, std::memory_order_seq_cst);
                }
                deliver(call, g_interrupt_type);
            }
            call->release();
        }
        for (CallNode *call : interrupts) {
            deliver(call, g_interrupt_type);
            call->release();
        }
        if (expired.empty() && interrupts.empty()) futex::wait(g_watch_seq, seq, sleep_ns);
    }
}

// Starts the watchdog thread if needed; g_mutex held.
void ensure_watchdog_locked() {
    if (!g_watchdog.joinable() && g_python_alive) g_watchdog = std::thread(watchdog_main);
}

}  // namespace

const char *const kInterruptTypeName = "pybridge.CallInterrupted";

void open(Python, bool route_sigint) {
    if (!g_interrupt_type) {
        g_interrupt_type = PyErr_NewExceptionWithDoc(
            "pybridge.CallInterrupted",
            "Raised into a call that the host cancelled or whose deadline passed.",
            PyExc_BaseException, nullptr);
        if (!g_interrupt_type) {
            PyErr_Clear();
            throw Error("pybridge: could not create the CallInterrupted exception type");
        }
    }
    publish_native_type("CallInterrupted", g_interrupt_type);
    g_interpreter_thread_id = PyThread_get_thread_ident();
    std::lock_guard<std::mutex> lock(g_mutex);
    g_python_alive = true;
    g_watchdog_stop = false;
    g_route_sigint = route_sigint;
    if (route_sigint) {
        ensure_watchdog_locked();
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        ::sigaction(SIGINT, &sa, &g_previous_sigint);
    }
}

void close(Python) noexcept {
    std::thread watchdog;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_python_alive = false;
        g_watchdog_stop = true;
        if (g_route_sigint) {
            // Put the previous handler back only if ours is still installed: a handler the
            // host installed since then stays.
            struct sigaction now {};
            if (::sigaction(SIGINT, nullptr, &now) == 0 && !(now.sa_flags & SA_SIGINFO) &&
                now.sa_handler == on_sigint) {
                ::sigaction(SIGINT, &g_previous_sigint, nullptr);
            }
        }
        g_route_sigint = false;
        watchdog.swap(g_watchdog);
    }
    wake_watchdog();
    if (watchdog.joinable()) {
        PyThreadState *ts = PyEval_SaveThread();  // the watchdog may be waiting for the GIL
        watchdog.join();
        PyEval_RestoreThread(ts);
    }
}

void forget_after_fork() noexcept {
    // Re-made in place, not destroyed: the old objects belong to threads that do not exist
    // here (a joinable std::thread's destructor would call std::terminate; the mutex may
    // have been held at the fork).
    new (&g_watchdog) std::thread();
    new (&g_mutex) std::mutex();
    g_python_alive = false;
    g_route_sigint = false;
}

void clear_leftover(Python) noexcept {
    // A plain load first: the common case (no interrupt) costs no read-modify-write.
    if (g_async_exc_sent.load(std::memory_order_acquire) && g_async_exc_sent.exchange(false, std::memory_order_acq_rel)) {
        PyThreadState_SetAsyncExc(g_interpreter_thread_id, nullptr);  // the call ended first
    }
}

void interrupt_for_stop() noexcept {
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (!g_python_alive) return;
        try {
            ensure_watchdog_locked();
        } catch (...) {
            return;  // no thread to be had: the running call is not interrupted
        }
        g_stop_sent.store(true, std::memory_order_release);
        g_stop_pending.store(true, std::memory_order_release);
    }
    wake_watchdog();
}

bool stop_interrupt_sent() noexcept { return g_stop_sent.load(std::memory_order_acquire); }

void set_running(CallNode *call) noexcept { g_running.store(call, std::memory_order_seq_cst); }

void set_running_slot_call() noexcept { g_running.store(kSlotCallRunning, std::memory_order_seq_cst); }

void remove_deadline(CallNode *call) noexcept {
    bool found = false;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        const auto when = Clock::time_point(std::chrono::nanoseconds(call->deadline_ns));
        for (auto [it, end] = g_deadlines.equal_range(when); it != end; ++it) {
            if (it->second == call) {
                g_deadlines.erase(it);
                found = true;
                break;
            }
        }
    }
    if (found) call->release();
}

void add_deadline(CallNode *call, Clock::time_point deadline) {
    call->refs.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (!g_python_alive) {
            call->release();
            return;
        }
        ensure_watchdog_locked();
        g_deadlines.emplace(deadline, call);
    }
    wake_watchdog();
}

}  // namespace interrupt

void interrupt_running_call(CallNode *call, bool deadline) noexcept {
    if (!call->interrupt_requested.load(std::memory_order_acquire)) {
        call->is_deadline_interrupt = deadline;
        call->interrupt_requested.store(true, std::memory_order_seq_cst);
    }
    // Not yet marked running? The loop checks interrupt_requested right after marking it.
    if (interrupt::g_running.load(std::memory_order_seq_cst) != call) return;
    try {
        call->refs.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(interrupt::g_mutex);
        if (!interrupt::g_python_alive) {
            call->release();
            return;
        }
        interrupt::g_interrupts.push_back(call);
        interrupt::ensure_watchdog_locked();
    } catch (...) {
        call->release();  // out of memory: the call runs to its end
        return;
    }
    interrupt::wake_watchdog();
}

}  // namespace pyb::detail
