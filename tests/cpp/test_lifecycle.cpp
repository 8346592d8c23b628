// Start and stop in a process of their own: isolation from PYTHON* variables, work queued
// at stop() is rejected, calls after stop() fail at once, stop() is idempotent and safe to
// race, handles outliving the interpreter are dropped harmlessly, no restart.
#include <gtest/gtest.h>

#include <bridge/pybridge.hpp>
#include <gil/call_slot.hpp>
#include <gil/release_pool.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <future>
#include <thread>

namespace {

void host_sigint_handler(int) {}

std::string pyb_test_error_of(const std::function<void()> &f) {
    try {
        f();
    } catch (const std::exception &e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Lifecycle, StartUseStopAndRefuseEverythingAfterwards) {
    // A bad environment is refused with a message naming it, and does not use up the
    // process's one start.
    for (const auto &[path, reason] : {std::pair<const char *, const char *>{"/nonexistent/venv/bin/python",
                                                                             "No such file or directory"},
                                       {"/tmp", "is a directory"},
                                       // Executables that are not the linked Python (nor a venv of it).
                                       {"/bin/true", "is neither a virtual environment nor the Python pybridge is linked against"},
                                       {"/bin/sh", "is neither a virtual environment nor the Python pybridge is linked against"}}) {
        pyb::InterpreterConfig bad;
        bad.python_executable = path;
        try {
            pyb::Bridge never(bad);
            ADD_FAILURE() << "started with " << path << " as Python";
        } catch (const pyb::Error &e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
        }
    }

    ::setenv("PYTHONPATH", "/pybridge-must-not-see-this", 1);  // isolated: ignored
    struct sigaction host {};
    host.sa_handler = host_sigint_handler;
    ASSERT_EQ(::sigaction(SIGINT, &host, nullptr), 0);

    // try_submit reports why a call cannot run instead of throwing.
    pyb::Interpreter not_started;
    EXPECT_EQ(not_started.try_submit([](pyb::Python) { return 0; }).status, pyb::SubmitStatus::NotStarted);
    EXPECT_THROW(not_started.submit([](pyb::Python) { return 0; }), pyb::InterpreterStopped);

    auto py = std::make_unique<pyb::Bridge>();
    EXPECT_TRUE(py->interpreter().running());
    // Python installed no SIGINT handler: the host's is still in place.
    py->exec("import signal");
    struct sigaction now {};
    ASSERT_EQ(::sigaction(SIGINT, nullptr, &now), 0);
    EXPECT_EQ(now.sa_handler, &host_sigint_handler);
    EXPECT_FALSE(py->eval("'/pybridge-must-not-see-this' in __import__('sys').path").as_bool());
    // A write to a closed pipe is a BrokenPipeError, not a SIGPIPE that kills the host.
    EXPECT_EQ(pyb_test_error_of([&] {
                  py->exec("import os\nr, w = os.pipe()\nos.close(r)\ntry:\n    os.write(w, b'x')\nfinally:\n    os.close(w)\n");
              }).rfind("BrokenPipeError: ", 0),
              0u);

    // stop() from the interpreter thread is an error, not a deadlock.
    EXPECT_TRUE(py->interpreter().call([&](pyb::Python) {
        try {
            py->stop();
        } catch (const pyb::Error &e) {
            return std::string(e.what()).find("interpreter thread") != std::string::npos;
        }
        return false;
    }));

    // Torch loaded and a torch tensor still viewed by the host at stop: the default
    // Finalize::Auto skips Py_FinalizeEx and the view is dropped harmlessly afterwards.
    pyb::Value tensor = py->eval("__import__('torch').arange(6.0)");
    ASSERT_EQ(tensor.kind(), pyb::Value::Kind::Tensor);
    pyb::ObjectRef module = py->import("json");
    // A host tensor keeping its torch view (Tensor::keep_python_view) across stop(): stop()
    // gives the view back while Python runs, so the release callback runs once the host
    // drops the handle — after stop, on this thread.
    std::vector<float> kept_data{1, 2, 3};
    std::atomic<int> kept_released{0};
    pyb::Tensor kept = pyb::Tensor::from_buffer(kept_data.data(), {3}, pyb::dtype_of<float>(), {},
                                                [&kept_released] { kept_released.fetch_add(1); });
    kept.keep_python_view();
    EXPECT_DOUBLE_EQ(py->call(py->eval_ref("lambda t: float(t.sum())"), {kept}).as_float(), 6.0);

    // Two threads release records until after the stop, one through its call slot's ring and
    // one through the shared stack: each record runs exactly once, before or after it (a
    // record deletes itself when it runs: a second run is a double free under ASan).
    struct Counted : pyb::release_pool::Deferred {
        std::atomic<std::uint64_t> *runs;
    };
    std::atomic<bool> stopped{false};
    std::atomic<std::uint64_t> released[2] = {0, 0}, ran[2] = {0, 0};
    auto release_records = [&](int which) {
        std::uint64_t n = 0;
        while (!stopped.load(std::memory_order_relaxed)) {
            if (n - ran[which].load(std::memory_order_relaxed) > 4096) {  // the interpreter is held: wait
                std::this_thread::yield();
                continue;
            }
            auto *record = new Counted;
            record->runs = &ran[which];
            record->run = [](pyb::release_pool::Deferred *d, bool) {
                auto *r = static_cast<Counted *>(d);
                r->runs->fetch_add(1);
                delete r;
            };
            pyb::release_pool::defer(record);
            released[which].store(++n, std::memory_order_relaxed);
        }
    };
    std::thread ring_releaser([&] {
        py->interpreter().call([](pyb::Python) { return 0; });  // claims this thread's slot
        release_records(0);
    });
    std::thread stack_releaser([&] { release_records(1); });
    while (released[0].load() == 0 || released[1].load() == 0) std::this_thread::yield();

    // A call holding the interpreter thread, two queued behind it, then stop().
    std::promise<void> gate;
    std::shared_future<void> gate_open = gate.get_future().share();
    std::atomic<bool> started{false};
    auto running = py->interpreter().submit([gate_open, &started](pyb::Python) {
        started.store(true);
        gate_open.wait();
        return 7;
    });
    while (!started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto queued1 = py->interpreter().submit([](pyb::Python) { return 1; });
    auto queued2 = py->interpreter().submit([](pyb::Python) { return 2; });
    // A host thread blocked in call(), its call handed over through its slot and not run.
    const auto slot_handoffs = [] {
        std::uint64_t n = 0;
        for (int i = 0; i < pyb::detail::kCallSlots; ++i) n += pyb::detail::call_slots()[i].seq.load();
        return n;
    };
    const std::uint64_t handoffs_before = slot_handoffs();
    std::string slot_call_outcome;
    std::thread slot_caller([&] { slot_call_outcome = pyb_test_error_of([&] { py->interpreter().call([](pyb::Python) { return 3; }); }); });
    while (slot_handoffs() == handoffs_before) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::thread stopper([&] { py->stop(); });
    std::thread racer([&] { py->stop(); });  // concurrent stop(): both return after the join
    while (py->interpreter().running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    gate.set_value();
    stopper.join();
    racer.join();
    slot_caller.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // releases after the stop, too
    stopped.store(true);
    ring_releaser.join();
    stack_releaser.join();
    for (int which = 0; which < 2; ++which) {
        EXPECT_EQ(ran[which].load(), released[which].load()) << (which == 0 ? "ring" : "stack") << " releaser";
    }
    EXPECT_NE(slot_call_outcome.find("the interpreter stopped before this call ran"), std::string::npos)
        << slot_call_outcome;

    EXPECT_EQ(running.get(), 7);  // the running call finishes
    EXPECT_THROW(queued1.get(), pyb::InterpreterStopped);
    EXPECT_THROW(queued2.get(), pyb::InterpreterStopped);
    EXPECT_FALSE(py->interpreter().running());

    // After stop: fail fast, never hang.
    EXPECT_THROW(py->eval("1"), pyb::InterpreterStopped);
    EXPECT_THROW(py->interpreter().submit([](pyb::Python) { return 0; }), pyb::InterpreterStopped);
    EXPECT_EQ(py->interpreter().try_submit([](pyb::Python) { return 0; }).status, pyb::SubmitStatus::Stopped);
    EXPECT_THROW(py->interpreter().post([](pyb::Python) {}), pyb::InterpreterStopped);
    EXPECT_THROW(py->interpreter().submit_batch(std::vector<std::function<int(pyb::Python)>>{}),
                 pyb::InterpreterStopped);
    py->stop();  // idempotent

    // Handles that outlive the interpreter are dropped harmlessly, on any thread.
    tensor = pyb::Value();
    EXPECT_EQ(kept_released.load(), 0);
    kept = pyb::Tensor();
    EXPECT_EQ(kept_released.load(), 1);
    std::thread([m = std::move(module)]() mutable { m = pyb::ObjectRef(); }).join();
    // A release that carries its own record runs at once, told Python is gone (it frees
    // host memory only), on whichever thread queues it.
    struct Node : pyb::release_pool::Deferred {
        int outcome = 0;  // 1: ran with Python alive, 2: ran after stop
    } node;
    node.run = [](pyb::release_pool::Deferred *d, bool alive) { static_cast<Node *>(d)->outcome = alive ? 1 : 2; };
    std::thread([&node] { pyb::release_pool::defer(&node); }).join();
    EXPECT_EQ(node.outcome, 2);

    // CPython is started once per process.
    try {
        pyb::Bridge again;
        FAIL() << "a second interpreter started";
    } catch (const pyb::Error &e) {
        EXPECT_NE(std::string(e.what()).find("already started"), std::string::npos) << e.what();
    }
    py.reset();
}

}  // namespace
