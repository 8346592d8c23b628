// Submission: futures, FIFO batches, fire-and-forget post() with the error sink,
// re-entrancy, the would-deadlock guard, and SystemExit exit codes.
#include <atomic>
#include <memory>
#include <thread>

#include "gil_test_support.hpp"

using namespace std::chrono_literals;
using gil_test::interp;

TEST(Submit, FutureCarriesTheResultAndTheError) {
    pyb::Future<int> ok = interp().submit([](pyb::Python) { return 41 + 1; });
    EXPECT_EQ(ok.get(), 42);
    EXPECT_FALSE(ok.valid());  // get() consumes
    pyb::Future<void> bad = interp().submit([](pyb::Python) { throw std::runtime_error("host-side failure"); });
    try {
        bad.get();
        FAIL();
    } catch (const std::runtime_error &e) {
        EXPECT_STREQ(e.what(), "host-side failure");
    }
    auto py_err = interp().submit([](pyb::Python py) { gil_test::exec(py, "raise LookupError('nope')"); });
    try {
        py_err.get();
        FAIL();
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "LookupError");
    }
}

TEST(Submit, TrySubmitReportsOkWhileRunning) {
    auto r = interp().try_submit([](pyb::Python) { return 7; });
    ASSERT_TRUE(r);
    EXPECT_EQ(r.status, pyb::SubmitStatus::Ok);
    EXPECT_EQ(r.future.get(), 7);
}

TEST(Submit, BatchRunsInOrder) {
    gil_test::exec("_batch = []\n");
    std::vector<std::function<long(pyb::Python)>> calls;
    for (long i = 0; i < 2000; ++i) {
        calls.push_back([i](pyb::Python py) {
            gil_test::exec(py, "_batch.append(" + std::to_string(i) + ")");
            return i * 2;
        });
    }
    auto futures = interp().submit_batch(std::move(calls));
    ASSERT_EQ(futures.size(), 2000u);
    for (long i = 0; i < 2000; ++i) EXPECT_EQ(futures[static_cast<size_t>(i)].get(), i * 2);
    EXPECT_EQ(gil_test::eval_long("_batch == list(range(2000))"), 1);
}

TEST(Submit, PostedFailuresReachTheErrorSink) {
    const size_t before = gil_test::sink_messages().size();
    interp().post([](pyb::Python py) { gil_test::exec(py, "raise KeyError('posted')"); });
    interp().post([](pyb::Python py) { gil_test::exec(py, "_posted_ok = 1"); });
    gil_test::eval_long("0");  // FIFO: both posts ran before this call
    const auto msgs = gil_test::sink_messages();
    ASSERT_EQ(msgs.size(), before + 1);
    EXPECT_EQ(msgs.back(), "KeyError: 'posted'");
    EXPECT_EQ(gil_test::eval_long("_posted_ok"), 1);
}

TEST(Submit, ReentrantSubmitRunsInline) {
    const long r = interp().call([](pyb::Python) {
        // A host function called by Python would do exactly this.
        return interp().call([](pyb::Python py) { return gil_test::eval_long(py, "6 * 7"); });
    });
    EXPECT_EQ(r, 42);
}

TEST(Submit, WaitingOnTheInterpreterThreadForQueuedWorkFailsAtOnce) {
    // X runs on the interpreter thread and waits for Y, which is queued behind X.
    auto y_future = std::make_shared<pyb::Future<int>>();
    std::atomic<bool> y_ready{false};
    auto x = interp().submit([&](pyb::Python) -> std::string {
        while (!y_ready.load()) std::this_thread::sleep_for(1ms);
        try {
            y_future->get();
            return "returned";
        } catch (const pyb::WouldDeadlock &e) {
            return e.what();
        }
    });
    *y_future = interp().submit([](pyb::Python) { return 1; });
    y_ready.store(true);
    gil_test::expect_ready_within(x, 10s, "waiting on a queued future from the interpreter thread");
    EXPECT_NE(x.get().find("would deadlock"), std::string::npos);
    EXPECT_EQ(y_future->get(), 1);  // Y still runs afterwards
}

TEST(Submit, SystemExitArrivesAsAnErrorWithTheExitCode) {
    struct Case {
        const char *source;
        int code;
    };
    for (const Case &c : {Case{"import sys; sys.exit(3)", 3}, Case{"import sys; sys.exit()", 0},
                          Case{"raise SystemExit", 0}, Case{"import sys; sys.exit('bye')", 1}}) {
        SCOPED_TRACE(c.source);
        try {
            gil_test::exec(c.source);
            FAIL() << "no SystemExit";
        } catch (const pyb::PythonError &e) {
            EXPECT_EQ(e.type_name(), "SystemExit");
            ASSERT_TRUE(e.exit_code().has_value());
            EXPECT_EQ(*e.exit_code(), c.code);
        }
    }
    EXPECT_EQ(gil_test::eval_long("1 + 1"), 2);  // the host is still here
}

TEST(Submit, OtherErrorsHaveNoExitCode) {
    try {
        gil_test::exec("raise ValueError('x')");
        FAIL();
    } catch (const pyb::PythonError &e) {
        EXPECT_FALSE(e.exit_code().has_value());
    }
}

TEST(Submit, PostFromTheInterpreterThreadRunsAfterTheCurrentCall) {
    gil_test::exec("_order = []\n");
    interp().call([](pyb::Python py) {
        interp().post([](pyb::Python p) { gil_test::exec(p, "_order.append('posted')"); });
        gil_test::exec(py, "_order.append('call')");
    });
    EXPECT_EQ(gil_test::eval_long("_order == ['call', 'posted']"), 1);
}

TEST(Submit, EmptyBatchAfterStopStillReportsTheStop) {
    // Checked in the lifecycle suite, which owns a stoppable interpreter; here: running.
    EXPECT_TRUE(interp().submit_batch(std::vector<std::function<int(pyb::Python)>>{}).empty());
}
