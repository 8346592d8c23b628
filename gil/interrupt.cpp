#include "interrupt.hpp"

#include <Python.h>

#include <csignal>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "futex.hpp"
#include "future.hpp"

namespace pyb::detail {
namespace interrupt {
namespace {

using Clock = std::chrono::steady_clock;

PyObject *g_interrupt_type = nullptr;           // pybridge.CallInterrupted, never freed
std::atomic<CallNode *> g_running{nullptr};

std::mutex g_mutex;       // guards g_python_alive and the watchdog's deadlines
bool g_python_alive = false;
std::multimap<Clock::time_point, CallNode *> g_deadlines;
std::thread g_watchdog;
bool g_watchdog_stop = false;

// Wakes the watchdog: bumped by deadline registration, SIGINT and close().
std::atomic<std::uint32_t> g_watch_seq{0};
std::atomic<std::uint32_t> g_sigint_pending{0};

bool g_route_sigint = false;
struct sigaction g_previous_sigint {};

// Runs on the interpreter thread at a bytecode boundary (Py_AddPendingCall).
int raise_in_running_call(void *arg) {
    CallNode *call = g_running.load(std::memory_order_acquire);
    if (!call) return 0;  // idle, or the call already returned: nothing to stop
    if (arg == nullptr) {
        if (!call->interrupt_requested.load(std::memory_order_acquire)) return 0;
        PyErr_SetString(g_interrupt_type, "pybridge: call interrupted (cancelled, or past its deadline)");
    } else {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
    return -1;
}

// Schedules raise_in_running_call unless Python is gone. `sigint`: raise KeyboardInterrupt.
void schedule(bool sigint) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_python_alive) return;
    static int kSigintTag;
    // Fails only when CPython's pending-call queue is full; the call then runs to its end.
    (void)Py_AddPendingCall(raise_in_running_call, sigint ? &kSigintTag : nullptr);
}

extern "C" void on_sigint(int) {
    // Async-signal-safe: two atomics and a futex wake.
    g_sigint_pending.store(1, std::memory_order_relaxed);
    g_watch_seq.fetch_add(1, std::memory_order_release);
    futex::wake(g_watch_seq, 1);
}

void watchdog_main() {
    for (;;) {
        const std::uint32_t seq = g_watch_seq.load(std::memory_order_acquire);
        if (g_sigint_pending.exchange(0, std::memory_order_acq_rel) && g_running.load()) schedule(true);
        std::vector<CallNode *> expired;
        std::int64_t sleep_ns = -1;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            if (g_watchdog_stop) {
                for (auto &[when, call] : g_deadlines) expired.push_back(call);
                g_deadlines.clear();
                for (CallNode *c : expired) c->release();
                return;
            }
            const auto now = Clock::now();
            while (!g_deadlines.empty() && g_deadlines.begin()->first <= now) {
                expired.push_back(g_deadlines.begin()->second);
                g_deadlines.erase(g_deadlines.begin());
            }
            if (!g_deadlines.empty()) {
                sleep_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(g_deadlines.begin()->first - now).count();
            }
        }
        for (CallNode *call : expired) {
            if (!call->cancel_queued(std::make_exception_ptr(
                    DeadlineExceeded("pybridge: call's deadline passed before it ran")))) {
                if (!is_final(call->state.load(std::memory_order_acquire))) interrupt_running_call(call, true);
            }
            call->release();
        }
        if (expired.empty()) futex::wait(g_watch_seq, seq, sleep_ns);
    }
}

void wake_watchdog() {
    g_watch_seq.fetch_add(1, std::memory_order_release);
    futex::wake(g_watch_seq, 1);
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
        if (g_route_sigint) ::sigaction(SIGINT, &g_previous_sigint, nullptr);
        g_route_sigint = false;
        watchdog.swap(g_watchdog);
    }
    wake_watchdog();
    if (watchdog.joinable()) watchdog.join();
}

void set_running(CallNode *call) noexcept { g_running.store(call, std::memory_order_release); }

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
        call->interrupt_requested.store(true, std::memory_order_release);
    }
    // Queued still (raced with start)? The loop checks interrupt_requested before running.
    if (interrupt::g_running.load(std::memory_order_acquire) == call) interrupt::schedule(false);
}

}  // namespace pyb::detail
