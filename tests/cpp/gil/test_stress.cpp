// 16 host threads x 20,000 mixed calls (no-op, raising, returning containers, releasing
// handles on other threads, cancelling): every result checked, none lost or duplicated.
// PYBRIDGE_STRESS_CALLS overrides the per-thread count (the sanitizer runs keep the default).
#include <gil/object_ref.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "gil_test_support.hpp"

using gil_test::interp;

namespace {

long calls_per_thread() {
    const char *env = std::getenv("PYBRIDGE_STRESS_CALLS");
    return env ? std::atol(env) : 20000;
}

// Handles made on one thread and dropped on another.
struct Handoff {
    std::mutex mutex;
    std::vector<pyb::ObjectRef> refs;
};

}  // namespace

TEST(Stress, SixteenHostThreadsMixedCalls) {
    constexpr int kThreads = 16;
    const long n = calls_per_thread();
    gil_test::exec(
        "class _Live:\n"
        "    count = 0\n"
        "    def __init__(self):\n"
        "        _Live.count += 1\n"
        "    def __del__(self):\n"
        "        _Live.count -= 1\n");

    std::vector<std::atomic<std::uint8_t>> ran(static_cast<size_t>(kThreads * n));
    std::atomic<long> wrong{0}, cancelled{0}, completed{0};
    Handoff handoff;

    auto worker = [&](int t) {
        std::mt19937 rng(static_cast<unsigned>(t));
        for (long i = 0; i < n; ++i) {
            const long id = t * n + i;
            auto &flag = ran[static_cast<size_t>(id)];
            switch (i % 5) {
                case 0: {  // no-op returning its id
                    auto f = interp().submit([id, &flag](pyb::Python) {
                        flag.fetch_add(1);
                        return id;
                    });
                    if (f.get() != id) ++wrong;
                    break;
                }
                case 1: {  // raises
                    auto f = interp().submit([id, &flag](pyb::Python py) {
                        flag.fetch_add(1);
                        gil_test::exec(py, "raise ValueError('" + std::to_string(id) + "')");
                    });
                    try {
                        f.get();
                        ++wrong;
                    } catch (const pyb::PythonError &e) {
                        if (e.message() != std::to_string(id)) ++wrong;
                    }
                    break;
                }
                case 2: {  // returns a container built by Python
                    auto f = interp().submit([id, &flag](pyb::Python py) {
                        flag.fetch_add(1);
                        PyObject *main = PyImport_AddModule("__main__");
                        PyObject *g = PyModule_GetDict(main);
                        const std::string expr = "[" + std::to_string(id) + ", 'x', (1, 2)]";
                        PyObject *list = PyRun_String(expr.c_str(), Py_eval_input, g, g);
                        if (!list) pyb::throw_python_error(py);
                        const long first = PyLong_AsLong(PyList_GET_ITEM(list, 0));
                        const Py_ssize_t size = PyList_GET_SIZE(list);
                        Py_DECREF(list);
                        return std::make_pair(first, size);
                    });
                    const auto r = f.get();
                    if (r.first != id || r.second != 3) ++wrong;
                    break;
                }
                case 3: {  // a handle made here, dropped on whichever thread takes it
                    auto f = interp().submit([&flag](pyb::Python py) {
                        flag.fetch_add(1);
                        PyObject *main = PyImport_AddModule("__main__");
                        PyObject *g = PyModule_GetDict(main);
                        return pyb::ObjectRef::steal(py, PyRun_String("_Live()", Py_eval_input, g, g));
                    });
                    pyb::ObjectRef ref = f.get();
                    if (!ref) ++wrong;
                    std::vector<pyb::ObjectRef> to_drop;
                    {
                        std::lock_guard<std::mutex> lock(handoff.mutex);
                        handoff.refs.push_back(std::move(ref));
                        if (handoff.refs.size() > 64 && rng() % 2) to_drop.swap(handoff.refs);
                    }
                    to_drop.clear();  // released on this (maybe other) host thread
                    break;
                }
                case 4: {  // cancelled right away: either it ran or it never will
                    auto f = interp().submit([id, &flag](pyb::Python) {
                        flag.fetch_add(1);
                        return id;
                    });
                    const pyb::CancelResult c = f.cancel();
                    try {
                        if (f.get() != id) ++wrong;
                        if (c == pyb::CancelResult::Cancelled) ++wrong;  // claimed cancelled, yet ran
                    } catch (const pyb::Cancelled &) {
                        ++cancelled;
                        flag.fetch_add(10);  // marks "cancelled": must not also have run
                    }
                    break;
                }
            }
            ++completed;
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
    for (auto &th : threads) th.join();

    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(completed.load(), kThreads * n);
    long bad_flags = 0;
    for (auto &f : ran) {
        const auto v = f.load();
        if (v != 1 && v != 10) ++bad_flags;  // ran exactly once, or cancelled and never ran
    }
    EXPECT_EQ(bad_flags, 0);
    handoff.refs.clear();
    EXPECT_EQ(gil_test::eval_long("_Live.count"), 0);  // every handle released, exactly once
    std::printf("stress: %ld calls, %ld cancelled before running\n", kThreads * n, cancelled.load());
}
