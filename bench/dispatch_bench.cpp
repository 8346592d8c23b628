// bench/dispatch: the cost of getting a Python call run from a host thread.
//
// Two Python callables: noop() and g(x) = x + 1 (int in, int out, converted in the call).
// In one run, on the same interpreter:
//   (a) pybridge: Interpreter::call() round trip from 1 host thread (latency), and from 4
//       host threads at once (throughput);
//   (b) pybridge submit_batch() of 1,000 calls, waiting for all (throughput);
//   (c) a naive executor written here: std::mutex + std::condition_variable queue of
//       std::function, a std::promise per call, a worker thread that holds the GIL while
//       it runs calls and releases it while it waits;
//   (d) the host thread taking the GIL itself: PyGILState_Ensure, call, PyGILState_Release
//       (1 and 4 threads; pybridge's interpreter thread is idle meanwhile);
//   (e) the call on a thread that already holds the GIL (inside one pybridge call): the
//       lower bound;
//   (f) one cache line bounced between two threads: the hardware floor of any round trip
//       between two threads, which moves with the placement of this VM's vCPUs.
// Each figure: median of 7 samples after a warm-up (min..max shown). Calls are created and
// destroyed inside the timing (that is part of their cost).
#include <gil/futex.hpp>
#include <gil/interpreter.hpp>
#include <gil/python_error.hpp>

#include <Python.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "bench_report.hpp"

namespace {

using Clock = std::chrono::steady_clock;

PyObject *g_noop = nullptr;  // strong references, kept for the whole run
PyObject *g_plus_one = nullptr;

// The work of one call, on whichever thread holds the GIL.
long call_noop() {
    PyObject *r = PyObject_CallNoArgs(g_noop);
    if (!r) std::abort();
    Py_DECREF(r);
    return 0;
}
long call_plus_one(long x) {
    PyObject *arg = PyLong_FromLong(x);
    PyObject *r = PyObject_CallOneArg(g_plus_one, arg);
    Py_DECREF(arg);
    if (!r) std::abort();
    const long v = PyLong_AsLong(r);
    Py_DECREF(r);
    return v;
}

// (c) The executor everybody writes first.
class NaiveExecutor {
public:
    NaiveExecutor() : worker_([this] { run(); }) {}
    ~NaiveExecutor() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        cv_.notify_one();
        worker_.join();
    }
    template <class F>
    auto submit(F fn) -> std::future<decltype(fn())> {
        auto promise = std::make_shared<std::promise<decltype(fn())>>();
        auto future = promise->get_future();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            queue_.push_back([promise, fn] { promise->set_value(fn()); });
        }
        cv_.notify_one();
        return future;
    }

private:
    void run() {
        PyGILState_STATE gil = PyGILState_Ensure();
        for (;;) {
            std::function<void()> job;
            {
                PyThreadState *ts = PyEval_SaveThread();  // wait without the GIL
                std::unique_lock<std::mutex> lock(mutex_);
                cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
                if (queue_.empty()) {
                    lock.unlock();
                    PyEval_RestoreThread(ts);
                    break;
                }
                job = std::move(queue_.front());
                queue_.pop_front();
                lock.unlock();
                PyEval_RestoreThread(ts);
            }
            job();
        }
        PyGILState_Release(gil);
    }
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool stop_ = false;
    std::thread worker_;
};

// Throughput of `threads` host threads each running op() `per_thread` times: calls/s.
template <class F>
bench::Stats throughput(int threads, long per_thread, F op) {
    std::vector<double> rates;
    for (int sample = -1; sample < 7; ++sample) {  // sample -1: warm-up
        std::atomic<int> ready{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; ++t) {
            ts.emplace_back([&, t] {
                ++ready;
                while (!go.load()) std::this_thread::yield();
                for (long i = 0; i < per_thread; ++i) op(t, i);
            });
        }
        while (ready.load() < threads) std::this_thread::yield();
        const auto t0 = Clock::now();
        go.store(true);
        for (auto &th : ts) th.join();
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (sample >= 0) rates.push_back(static_cast<double>(threads * per_thread) / s);
    }
    return bench::summary(std::move(rates));
}

// Keeps a Python thread state on the calling thread without holding the GIL.
struct ThreadState {
    PyGILState_STATE outer;
    PyThreadState *saved;
    ThreadState() : outer(PyGILState_Ensure()), saved(PyEval_SaveThread()) {}
    ~ThreadState() {
        PyEval_RestoreThread(saved);
        PyGILState_Release(outer);
    }
};

template <class F>
auto with_thread_state(F &&f) {
    ThreadState keep;
    return f();
}

void row(const char *label, const bench::Stats &s, const char *unit) {
    std::printf("  %-46s %12.3f %s   (%.3f..%.3f)\n", label, s.median, unit, s.min, s.max);
}

}  // namespace

int main() {
    pyb::Interpreter interp{pyb::InterpreterConfig{}};
    interp.call([](pyb::Python py) {
        PyObject *main = PyImport_AddModule("__main__");
        PyObject *g = PyModule_GetDict(main);
        PyObject *r = PyRun_String("def noop():\n    pass\ndef plus_one(x):\n    return x + 1\n", Py_file_input, g, g);
        if (!r) pyb::throw_python_error(py);
        Py_DECREF(r);
        g_noop = PyDict_GetItemString(g, "noop");
        g_plus_one = PyDict_GetItemString(g, "plus_one");
        Py_INCREF(g_noop);
        Py_INCREF(g_plus_one);
    });

    struct Case {
        const char *name;
        std::function<long(long)> work;  // runs with the GIL held
    };
    const Case cases[] = {{"noop", [](long) { return call_noop(); }},
                          {"plus_one", [](long i) { return call_plus_one(i); }}};
    constexpr long kCalls = 20000;
    bench::Report report;

    std::printf("Dispatch: one Python call from a host thread (median of 7; min..max)\n");
    for (const Case &c : cases) {
        const std::string n = std::string("dispatch.") + c.name;
        auto &work = c.work;

        // (e) lower bound: already holding the GIL, on the interpreter thread.
        const bench::Stats held = interp.call([&](pyb::Python) {
            return bench::measure_us(7, kCalls, [&] { work(1); });
        });
        // (f) measured next to (a): the floor moves with the vCPUs' placement.
        const bench::Stats floor = bench::cacheline_pingpong_us();
        // (a) pybridge, 1 host thread.
        const bench::Stats rt1 = bench::measure_us(7, kCalls, [&] {
            if (interp.call([&](pyb::Python) { return work(1); }) < 0) std::abort();
        });
        // (a) pybridge, 4 host threads.
        const bench::Stats tp4 = throughput(4, kCalls / 4, [&](int, long i) {
            interp.call([&](pyb::Python) { return work(i); });
        });
        // (b) pybridge, batches of 1,000.
        const bench::Stats batch = [&] {
            using Fn = std::function<long(pyb::Python)>;
            std::vector<double> rates;
            for (int s = -1; s < 7; ++s) {
                const auto t0 = Clock::now();
                for (int b = 0; b < kCalls / 1000; ++b) {
                    std::vector<Fn> fns(1000, [&](pyb::Python) { return work(1); });
                    auto futures = interp.submit_batch(std::move(fns));
                    for (auto &f : futures) f.get();
                }
                const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
                if (s >= 0) rates.push_back(kCalls / sec);
            }
            return bench::summary(std::move(rates));
        }();
        // (c) naive executor, 1 host thread.
        const bench::Stats naive = [&] {
            NaiveExecutor ex;
            return bench::measure_us(7, kCalls / 4, [&] { ex.submit([&] { return work(1); }).get(); });
        }();
        // (d) PyGILState_Ensure on the host, 1 and 4 threads. Each host thread keeps one
        // thread state for the whole run (an outer Ensure), so the timed Ensure/Release is
        // the GIL hand-off alone, as in a host that binds CPython directly.
        const bench::Stats ensure1 = with_thread_state([&] {
            return bench::measure_us(7, kCalls, [&] {
                PyGILState_STATE s = PyGILState_Ensure();
                work(1);
                PyGILState_Release(s);
            });
        });
        const bench::Stats ensure4 = throughput(4, kCalls / 4, [&](int, long i) {
            thread_local ThreadState keep;
            PyGILState_STATE s = PyGILState_Ensure();
            work(i);
            PyGILState_Release(s);
        });

        std::printf("%s\n", c.name);
        row("(a) pybridge round trip, 1 host thread", rt1, "us");
        row("(a) pybridge, 4 host threads", tp4, "calls/s");
        row("(b) pybridge batched (1,000 per batch)", batch, "calls/s");
        row("(c) naive mutex+cv+promise executor", naive, "us");
        row("(d) PyGILState_Ensure on the host, 1 thread", ensure1, "us");
        row("(d) PyGILState_Ensure on the host, 4 threads", ensure4, "calls/s");
        row("(e) GIL already held (lower bound)", held, "us");
        row("(f) cache-line ping-pong, 2 threads (floor)", floor, "us");
        std::printf("  (a) 1-host round trip = %.2f x (f)\n", rt1.median / floor.median);

        report.result(n + "_1host.pybridge", rt1.median, "us");
        report.result(n + "_4host.pybridge", tp4.median, "calls/s");
        report.result(n + "_batched.pybridge", batch.median, "calls/s");
        report.result(n + "_1host.naive", naive.median, "us");
        report.result(n + "_1host.gilstate", ensure1.median, "us");
        report.result(n + "_4host.gilstate", ensure4.median, "calls/s");
        report.result(n + ".gil_held", held.median, "us");
        report.result(n + ".cacheline_pingpong", floor.median, "us");
        report.ratio(n + "_1host.pybridge_over_naive", rt1.median / naive.median, "<=", 0.1);
        report.ratio(n + "_1host.pybridge_over_gilstate", rt1.median / ensure1.median, "<=", 3);
        report.ratio(n + "_4host.pybridge_over_gilstate", tp4.median / ensure4.median, ">=", 1);
        if (std::string(c.name) == "noop") report.ratio(n + "_batched.calls_per_s", batch.median, ">=", 1e6);
    }
    interp.stop();
    report.print();
    return 0;
}
