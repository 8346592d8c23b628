// Cancellation and deadlines: a queued call never runs; a running one is interrupted at
// the next bytecode boundary; the interpreter stays usable. SIGINT reaches only the
// running call.
#include <atomic>
#include <cmath>
#include <csignal>
#include <memory>
#include <string>
#include <thread>

#include "gil_test_support.hpp"

using namespace std::chrono_literals;
using gil_test::interp;

namespace {

// Holds the interpreter thread inside a call until release() (or the destructor).
class Blocker {
public:
    Blocker() {
        future_ = interp().submit([this](pyb::Python) {
            started_.store(true);
            while (!open_.load()) std::this_thread::sleep_for(1ms);
        });
        while (!started_.load()) std::this_thread::sleep_for(1ms);
    }
    void release() {
        open_.store(true);
        if (future_.valid()) future_.get();
    }
    ~Blocker() { release(); }

private:
    std::atomic<bool> started_{false}, open_{false};
    pyb::Future<void> future_;
};

// Submits `source` and returns once the interpreter thread runs it (not merely queued it:
// cancel() then interrupts instead of dequeuing, on however loaded a machine).
pyb::Future<void> run_started(std::string source, pyb::CallOptions options = {}) {
    auto started = std::make_shared<std::atomic<bool>>(false);
    auto future = interp().submit(
        [started, source = std::move(source)](pyb::Python py) {
            started->store(true);
            gil_test::exec(py, source);
        },
        options);
    if (!gil_test::wait_until([&] { return started->load(); })) ADD_FAILURE() << "the call did not start within 30 s";
    return future;
}

pyb::Future<void> run_forever() { return run_started("while True:\n    pass\n"); }

}  // namespace

TEST(Cancel, QueuedCallThatIsCancelledNeverRuns) {
    gil_test::exec("_ran = False\n");
    Blocker blocker;
    auto victim = interp().submit([](pyb::Python py) { gil_test::exec(py, "_ran = True\n"); });
    EXPECT_EQ(victim.cancel(), pyb::CancelResult::Cancelled);
    EXPECT_TRUE(victim.ready());
    EXPECT_EQ(victim.cancel(), pyb::CancelResult::TooLate);  // idempotent
    blocker.release();
    EXPECT_THROW(victim.get(), pyb::Cancelled);
    EXPECT_EQ(gil_test::eval_long("_ran"), 0);
}

TEST(Cancel, RunningInfiniteLoopStopsAtTheNextBytecode) {
    auto loop = run_forever();
    EXPECT_EQ(loop.cancel(), pyb::CancelResult::Interrupting);
    gil_test::expect_ready_within(loop, 10s, "cancelled `while True: pass`");
    EXPECT_THROW(loop.get(), pyb::Cancelled);
    EXPECT_EQ(gil_test::eval_long("2 + 2"), 4);  // still usable
}

TEST(Cancel, InterruptIsABaseExceptionThatExceptExceptionDoesNotSwallow) {
    auto loop = run_started(
        "while True:\n"
        "    try:\n"
        "        pass\n"
        "    except Exception:\n"
        "        pass\n");
    EXPECT_EQ(loop.cancel(), pyb::CancelResult::Interrupting);
    gil_test::expect_ready_within(loop, 10s, "cancelled loop with except Exception");
    EXPECT_THROW(loop.get(), pyb::Cancelled);
}

TEST(Cancel, DeadlineInterruptsARunningCall) {
    const auto t0 = std::chrono::steady_clock::now();
    // Long enough to start running on a loaded machine: the interrupt, not the dequeue, is tested.
    auto loop = run_started("while True:\n    pass\n", pyb::CallOptions::timeout(2s));
    gil_test::expect_ready_within(loop, 20s, "call past its deadline");
    try {
        loop.get();
        ADD_FAILURE() << "no DeadlineExceeded";
    } catch (const pyb::DeadlineExceeded &e) {
        EXPECT_EQ(std::string(e.what()), "pybridge: call interrupted at its deadline");
    }
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_EQ(gil_test::eval_long("3"), 3);
}

TEST(Cancel, DeadlinePassedWhileQueuedMeansTheCallNeverRuns) {
    gil_test::exec("_late_ran = False\n");
    Blocker blocker;
    auto late = interp().submit([](pyb::Python py) { gil_test::exec(py, "_late_ran = True\n"); },
                                pyb::CallOptions::timeout(20ms));
    // The watchdog, not the loop (held by the blocker), finishes it.
    gil_test::expect_ready_within(late, 10s, "a queued call past its deadline");
    blocker.release();
    EXPECT_THROW(late.get(), pyb::DeadlineExceeded);
    EXPECT_EQ(gil_test::eval_long("_late_ran"), 0);
}

TEST(Cancel, CallThatFinishesBeforeItsDeadlineIsUnaffected) {
    auto quick = interp().submit([](pyb::Python py) { return gil_test::eval_long(py, "5"); },
                                 pyb::CallOptions::timeout(5s));
    EXPECT_EQ(quick.get(), 5);
    EXPECT_EQ(quick.valid(), false);
}

TEST(Cancel, CancellingAFinishedCallIsTooLate) {
    auto done = interp().submit([](pyb::Python) { return 1; });
    done.wait();
    EXPECT_EQ(done.cancel(), pyb::CancelResult::TooLate);
    EXPECT_EQ(done.get(), 1);
}

TEST(Cancel, SigintRaisesKeyboardInterruptInTheRunningCallOnly) {
    // This interpreter was started with sigint_interrupts_call: idle, SIGINT does nothing.
    // (The watchdog reads the signal on its own thread: given time, so that it is not
    // delivered into the call below.)
    std::raise(SIGINT);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(gil_test::eval_long("1"), 1);

    auto loop = run_forever();
    std::raise(SIGINT);
    gil_test::expect_ready_within(loop, 10s, "SIGINT during `while True: pass`");
    try {
        loop.get();
        FAIL();
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "KeyboardInterrupt");
    }
    EXPECT_EQ(gil_test::eval_long("7"), 7);
}

TEST(Cancel, AnotherThreadCancelsWhileTheOwnerWaitsInGet) {
    auto loop = run_forever();
    pyb::Canceller canceller = loop.canceller();
    std::thread other([canceller] {
        std::this_thread::sleep_for(50ms);  // the owner is in get() by now, or soon: either way
        EXPECT_EQ(canceller.cancel(), pyb::CancelResult::Interrupting);
    });
    EXPECT_THROW(loop.get(), pyb::Cancelled);  // blocks until the other thread's cancel lands
    other.join();
    EXPECT_EQ(canceller.cancel(), pyb::CancelResult::TooLate);  // still valid after get()
}

TEST(Cancel, CallsAlreadyPastTheirDeadlineNeverRun) {
    std::atomic<int> ran{0};
    std::vector<pyb::Future<int>> futures;
    for (int i = 0; i < 200; ++i) {
        const auto past = i % 2 ? pyb::CallOptions{std::chrono::steady_clock::now() - 1s}
                                : pyb::CallOptions::timeout(0s);
        futures.push_back(interp().submit([&ran](pyb::Python) { return ++ran; }, past));
    }
    for (auto &f : futures) EXPECT_THROW(f.get(), pyb::DeadlineExceeded);
    EXPECT_EQ(ran.load(), 0);
    // Too far in the future to represent: no deadline at all, not one in the past.
    EXPECT_EQ(interp().submit([](pyb::Python) { return 3; }, pyb::CallOptions::timeout(std::chrono::hours::max())).get(), 3);
}

TEST(Cancel, FinishedCallsDoNotWaitForTheirDeadlineToBeFreed) {
    static std::atomic<int> live{0};
    struct Counted {
        Counted() { ++live; }
        Counted(const Counted &) { ++live; }
        Counted(Counted &&) noexcept { ++live; }
        ~Counted() { --live; }
    };
    for (int i = 0; i < 2000; ++i) {
        // The result stays in the call record until the record is freed; the Future is
        // dropped unread, so only the deadline's reference could keep it.
        (void)interp().submit([](pyb::Python) { return Counted(); }, pyb::CallOptions::timeout(1h));
    }
    gil_test::eval_long("0");  // FIFO: every call above has run
    EXPECT_EQ(live.load(), 0);
}

TEST(Cancel, WaitForWithAHugeTimeoutWaits) {
    auto slow = interp().submit([](pyb::Python) {
        std::this_thread::sleep_for(50ms);
        return 1;
    });
    EXPECT_TRUE(slow.wait_for(std::chrono::hours::max()));  // saturates instead of overflowing
    // A NaN timeout is an error, not a cast out of range.
    const std::chrono::duration<double> nan(std::nan(""));
    EXPECT_THROW(slow.wait_for(nan), pyb::Error);
    EXPECT_THROW(pyb::CallOptions::timeout(nan), pyb::Error);
    EXPECT_EQ(slow.get(), 1);
}
