// The interpreter thread: environment, one thread for all Python work, many host threads,
// FIFO order, re-entrant calls, releases from host threads, idle GIL release.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <thread>
#include <vector>

#include "shared_bridge.hpp"

using pyb_test::bridge;

namespace {

std::string parent_dir(const std::string &p) { return p.substr(0, p.find_last_of('/')); }

}  // namespace

TEST(Interpreter, UsesTheConfiguredVirtualEnvironment) {
    const pyb::InterpreterInfo &info = bridge().interpreter().info();
    EXPECT_EQ(info.executable, PYBRIDGE_TEST_PYTHON);
    EXPECT_EQ(info.prefix, parent_dir(parent_dir(PYBRIDGE_TEST_PYTHON)));
    EXPECT_NE(info.prefix, info.base_prefix);  // a venv, not the base installation
    EXPECT_EQ(info.version.substr(0, 5), "3.11.");
    // The venv's site-packages are importable: torch lives there.
    EXPECT_TRUE(bridge().eval("__import__('importlib.util').util.find_spec('torch') is not None").as_bool());
    EXPECT_TRUE(bridge().eval("any(p.startswith(__import__('sys').prefix) and p.endswith('site-packages')"
                              " for p in __import__('sys').path)").as_bool());
}

TEST(Interpreter, IsIsolatedAndHasArgv) {
    EXPECT_EQ(bridge().eval("__import__('sys').flags.isolated").as_int(), 1);
    EXPECT_EQ(bridge().eval("__import__('sys').flags.ignore_environment").as_int(), 1);
    EXPECT_FALSE(bridge().eval("'' in __import__('sys').path").as_bool());
    EXPECT_FALSE(bridge().eval("__import__('os').getcwd() in __import__('sys').path").as_bool());
    EXPECT_EQ(bridge().eval("__import__('sys').argv"), pyb::list({"pybridge"}));
}

TEST(Interpreter, LeavesTheHostsDefaultSigintAlone) {
    // CPython's signal module would install Python's SIGINT handler on import when the
    // process's is SIG_DFL (as in this test binary); pybridge keeps SIG_DFL in place.
    bridge().exec("import signal, subprocess, asyncio\n");
    struct sigaction now {};
    ASSERT_EQ(::sigaction(SIGINT, nullptr, &now), 0);
    EXPECT_EQ(now.sa_handler, SIG_DFL);
    EXPECT_TRUE(bridge().eval("__import__('signal').getsignal(__import__('signal').SIGINT) is None").as_bool());
}

TEST(Interpreter, RunsAllWorkOnOneThreadThatIsNotTheHosts) {
    const std::int64_t first = bridge().eval("__import__('threading').get_ident()").as_int();
    std::atomic<int> same{0};
    std::vector<std::thread> hosts;
    for (int t = 0; t < 4; ++t) {
        hosts.emplace_back([&] {
            if (bridge().eval("__import__('threading').get_ident()").as_int() == first) ++same;
        });
    }
    for (auto &h : hosts) h.join();
    EXPECT_EQ(same.load(), 4);
    EXPECT_FALSE(pyb::Interpreter::on_interpreter_thread());
    EXPECT_TRUE(bridge().interpreter().call([](pyb::Python) { return pyb::Interpreter::on_interpreter_thread(); }));
}

TEST(Interpreter, ManyHostThreadsSubmittingAtOnceGetTheirOwnResults) {
    bridge().exec("def _plus_one(x):\n    return x + 1\n");
    const pyb::ObjectRef plus_one = bridge().eval("_plus_one").as_object();
    constexpr int kThreads = 8, kCalls = 300;
    std::atomic<int> wrong{0};
    std::vector<std::thread> hosts;
    for (int t = 0; t < kThreads; ++t) {
        hosts.emplace_back([&, t] {
            for (int i = 0; i < kCalls; ++i) {
                const std::int64_t x = t * 100000 + i;
                if (bridge().call(plus_one, {x}).as_int() != x + 1) ++wrong;
            }
        });
    }
    for (auto &h : hosts) h.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(Interpreter, RunsCallsInSubmissionOrder) {
    bridge().exec("_order = []\n");
    const pyb::ObjectRef append = bridge().eval("_order.append").as_object();
    std::vector<pyb::Future<pyb::Value>> futures;
    pyb::List expected;
    for (std::int64_t i = 0; i < 500; ++i) {
        futures.push_back(bridge().interpreter().submit([append, i](pyb::Python py) {
            PyObject *arg = pyb::to_python(py, i);
            PyObject *r = PyObject_CallOneArg(append.get(py), arg);
            Py_DECREF(arg);
            if (!r) pyb::throw_python_error(py);
            Py_DECREF(r);
            return pyb::Value();
        }));
        expected.items.push_back(i);
    }
    for (auto &f : futures) f.get();
    EXPECT_EQ(bridge().eval("_order"), pyb::Value(expected));
}

TEST(Interpreter, ReentrantCallFromTheInterpreterThreadRunsInline) {
    // Work already on the interpreter thread that calls the bridge again (as a host function
    // called by Python would) must not wait for itself.
    const std::int64_t r = bridge().interpreter().call([](pyb::Python) {
        return bridge().eval("20 + 22").as_int();
    });
    EXPECT_EQ(r, 42);
}

TEST(Interpreter, HandlesReleasedOnHostThreadsAreDecrefedOnTheInterpreterThread) {
    bridge().exec(
        "import threading, weakref\n"
        "class _Probe: pass\n"
        "_freed_on = []\n"
        "def _make_probe():\n"
        "    p = _Probe()\n"
        "    global _probe_ref\n"
        "    _probe_ref = weakref.ref(p, lambda _: _freed_on.append(threading.get_ident()))\n"
        "    return p\n");
    pyb::ObjectRef probe = bridge().eval("_make_probe()").as_object();
    pyb::ObjectRef copy = probe;  // copies share one Python reference
    EXPECT_FALSE(bridge().eval("_probe_ref() is None").as_bool());
    std::thread([p = std::move(probe)]() mutable { p = pyb::ObjectRef(); }).join();
    EXPECT_FALSE(bridge().eval("_probe_ref() is None").as_bool());  // `copy` still holds it
    std::thread([c = std::move(copy)]() mutable { c = pyb::ObjectRef(); }).join();
    EXPECT_TRUE(bridge().eval("_probe_ref() is None").as_bool());
    EXPECT_EQ(bridge().eval("_freed_on == [threading.get_ident()]").as_bool(), true);
}

