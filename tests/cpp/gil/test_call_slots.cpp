// call()'s hand-off through per-host-thread slots (gil/call_slot.hpp): order against the
// queue, threads beyond the slots, slots given back when threads exit.
#include <gil/call_slot.hpp>

#include <array>
#include <atomic>
#include <csignal>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gil_test_support.hpp"

using gil_test::interp;

namespace {

// The number of calls handed over through slots so far (each bumps its slot's sequence).
std::uint64_t slot_handoffs() {
    std::uint64_t n = 0;
    for (int i = 0; i < pyb::detail::kCallSlots; ++i)
        n += pyb::detail::call_slots()[i].seq.load(std::memory_order_acquire);
    return n;
}

}  // namespace

TEST(CallSlots, CallUsesTheSlotAndRunsAfterWhatItsThreadQueued) {
    for (int round = 0; round < 20; ++round) {
        gil_test::exec("_seen = []\n");
        // Queued (posts, a batch, a future), then a call() through the slot: the call must
        // see all of it, though the slot is read before the queue.
        for (int i = 0; i < 50; ++i) {
            interp().post([i](pyb::Python py) { gil_test::exec(py, "_seen.append(" + std::to_string(i) + ")"); });
        }
        auto future = interp().submit([](pyb::Python py) { gil_test::exec(py, "_seen.append('future')"); });
        const std::uint64_t before = slot_handoffs();
        const long n = interp().call([](pyb::Python py) { return gil_test::eval_long(py, "len(_seen)"); });
        EXPECT_EQ(slot_handoffs(), before + 1);  // this call went through the slot
        ASSERT_EQ(n, 51) << "round " << round;
        future.get();
    }
    EXPECT_EQ(gil_test::eval_long("_seen == list(range(50)) + ['future']"), 1);
}

TEST(CallSlots, CallRunsAfterWorkAnotherThreadQueuedBeforeIt) {
    for (int round = 0; round < 50; ++round) {
        gil_test::exec("_from_a = []\n");
        std::atomic<bool> queued{false};
        std::thread a([&] {
            for (int i = 0; i < 20; ++i) interp().post([](pyb::Python py) { gil_test::exec(py, "_from_a.append(1)"); });
            queued.store(true, std::memory_order_release);
        });
        while (!queued.load(std::memory_order_acquire)) std::this_thread::yield();
        // Everything thread A queued happened before this call.
        EXPECT_EQ(interp().call([](pyb::Python py) { return gil_test::eval_long(py, "len(_from_a)"); }), 20)
            << "round " << round;
        a.join();
    }
}

TEST(CallSlots, MoreThreadsThanSlotsAllGetTheirResults) {
    constexpr int kThreads = pyb::detail::kCallSlots * 2 + 5;
    std::atomic<int> alive{0};
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            // All threads are alive at once, so some find every slot taken (the queue).
            alive.fetch_add(1);
            while (alive.load() < kThreads) std::this_thread::yield();
            for (long i = 0; i < 200; ++i) {
                const long want = t * 1000 + i;
                const long got = interp().call([want](pyb::Python py) {
                    return gil_test::eval_long(py, std::to_string(want) + " + 1");
                });
                if (got != want + 1) wrong.fetch_add(1);
            }
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_LE(pyb::detail::call_slots_in_use(), pyb::detail::kCallSlots);
}

TEST(CallSlots, ExitingThreadsGiveTheirSlotsBack) {
    const int in_use_before = pyb::detail::call_slots_in_use();
    const std::uint64_t before = slot_handoffs();
    for (int t = 0; t < 3 * pyb::detail::kCallSlots; ++t) {
        std::thread([t] {
            EXPECT_EQ(interp().call([t](pyb::Python) { return t; }), t);
        }).join();
    }
    // Every thread found a free slot (a leaked slot would push later threads to the queue)
    // and took the lowest free one.
    EXPECT_EQ(slot_handoffs(), before + 3 * pyb::detail::kCallSlots);
    EXPECT_LE(pyb::detail::call_slots_in_use(), std::max(in_use_before, 1));
}

TEST(CallSlots, CallsWithADeadlineUseTheQueue) {
    const std::uint64_t before = slot_handoffs();
    EXPECT_EQ(interp().call([](pyb::Python) { return 5; }, pyb::CallOptions::timeout(std::chrono::seconds(10))), 5);
    EXPECT_EQ(slot_handoffs(), before);  // a deadline needs the watchdog's record: queue
    EXPECT_THROW(interp().call([](pyb::Python py) { gil_test::exec(py, "while True: pass"); },
                               pyb::CallOptions::timeout(std::chrono::milliseconds(50))),
                 pyb::DeadlineExceeded);
}

TEST(CallSlots, SmallAndLargeCallablesCarryTheirCapturesAndErrors) {
    // Small and trivially copyable: travels in the slot line itself.
    const long a = 40, b = 2;
    auto small = [&](pyb::Python) { return a + b; };
    static_assert(pyb::detail::kTravelsInSlot<decltype(small)>);
    EXPECT_EQ(interp().call(small), 42);
    // Not trivially copyable (a std::string by value) or too large: the slot points at it.
    const std::string text = "a string too long for the small-string buffer, held by value";
    auto by_value = [text](pyb::Python py) {
        return gil_test::eval_long(py, "len('" + text + "')");
    };
    static_assert(!pyb::detail::kTravelsInSlot<decltype(by_value)>);
    EXPECT_EQ(interp().call(by_value), static_cast<long>(text.size()));
    std::array<long, 16> big{};
    big[15] = 7;
    auto large = [big](pyb::Python) { return big[15]; };
    static_assert(!pyb::detail::kTravelsInSlot<decltype(large)>);
    EXPECT_EQ(interp().call(std::move(large)), 7);
    // Errors come back with their Python type, on either path.
    try {
        interp().call([&](pyb::Python py) { gil_test::exec(py, "raise LookupError('from a slot call')"); });
        FAIL() << "no error";
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "LookupError");
        EXPECT_NE(std::string(e.what()).find("from a slot call"), std::string::npos);
    }
    EXPECT_THROW(interp().call([text](pyb::Python) -> int { throw std::runtime_error(text); }), std::runtime_error);
}

TEST(CallSlots, SigintInterruptsARunningSlotCall) {
    std::atomic<bool> started{false};
    std::promise<std::string> outcome;
    std::future<std::string> result = outcome.get_future();
    const std::uint64_t before = slot_handoffs();
    std::thread caller([&] {
        try {
            interp().call([&](pyb::Python py) {
                started.store(true);
                gil_test::exec(py, "while True: pass");
            });
            outcome.set_value("returned");
        } catch (const pyb::PythonError &e) {
            outcome.set_value(e.type_name());
        }
    });
    while (!started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(slot_handoffs(), before + 1);  // it went through the slot
    std::raise(SIGINT);
    if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        std::fprintf(stderr, "watchdog: SIGINT did not stop the slot call; aborting instead of hanging\n");
        std::_Exit(3);
    }
    EXPECT_EQ(result.get(), "KeyboardInterrupt");
    caller.join();
    EXPECT_EQ(gil_test::eval_long("5"), 5);
}

namespace {
// Calls Python from a thread_local destructor, after the thread's slot was given back.
struct CallsAtThreadExit {
    long *out = nullptr;
    ~CallsAtThreadExit() {
        if (out) *out = interp().call([](pyb::Python py) { return gil_test::eval_long(py, "98 + 1"); });
    }
};
}  // namespace

TEST(CallSlots, ACallFromAThreadExitDestructorUsesTheQueue) {
    long from_destructor = 0;
    const std::uint64_t before = slot_handoffs();
    std::thread([&] {
        thread_local CallsAtThreadExit at_exit;  // constructed first: destroyed after the slot's claim
        at_exit.out = &from_destructor;
        EXPECT_EQ(interp().call([](pyb::Python) { return 1; }), 1);
    }).join();
    EXPECT_EQ(from_destructor, 99);
    // Only the first call used the slot: the slot given back is another thread's to claim.
    EXPECT_EQ(slot_handoffs(), before + 1);
}

TEST(CallSlots, ACallPushedAsTheQueueEmptiesIsNotStranded) {
    // pop() puts the queue's stub back behind the last call; a call pushed in that window
    // sits before the stub. A round must still run it (it once waited for the next push,
    // with the loop spinning: this loop hung within seconds).
    for (int i = 0; i < 20000; ++i) {
        interp().post([](pyb::Python) {});
        auto f = interp().submit([i](pyb::Python) { return i; });
        gil_test::expect_ready_within(f, std::chrono::milliseconds(10000), "a submit() after a post()");
        ASSERT_EQ(f.get(), i);
    }
}

namespace {
long plain_function(pyb::Python) { return 11; }
}  // namespace

TEST(CallSlots, CallRunsACopyOfTheCallableLikeSubmit) {
    // A mutable lambda: each call runs a fresh copy, whatever its size (as submit(fn).get()).
    auto appends = [s = std::string("a string longer than the small-string buffer")](pyb::Python) mutable {
        s += "x";
        return static_cast<long>(s.size());
    };
    const long first = interp().call(appends);
    EXPECT_EQ(interp().call(appends), first);
    EXPECT_EQ(interp().submit(appends).get(), first);
    long counter_calls = 0;
    auto counts = [n = 0L, &counter_calls](pyb::Python) mutable {
        ++counter_calls;
        return ++n;
    };
    EXPECT_EQ(interp().call(counts), 1);
    EXPECT_EQ(interp().call(counts), 1);
    EXPECT_EQ(counter_calls, 2);
    // A const lvalue of a mutable lambda, and a plain function, compile and run.
    const auto const_counts = counts;
    EXPECT_EQ(interp().call(const_counts), 1);
    EXPECT_EQ(interp().call(plain_function), 11);
    EXPECT_EQ(interp().call(&plain_function), 11);
}

TEST(CallSlots, AnErrorLeftSetInPythonFailsItsOwnCallNotTheNext) {
    // The callable returns normally with Python's error indicator set (a bug in it): its
    // call fails with that error; the next call runs clean. Both paths: slot and queue.
    auto leaves_error = [](pyb::Python) {
        PyErr_SetString(PyExc_ValueError, "left set by the callable");
        return 1;
    };
    for (int path = 0; path < 2; ++path) {
        try {
            if (path == 0) interp().call(leaves_error);
            else interp().submit(leaves_error).get();
            FAIL() << "no error";
        } catch (const pyb::PythonError &e) {
            EXPECT_EQ(e.type_name(), "ValueError");
            EXPECT_NE(std::string(e.what()).find("left set by the callable"), std::string::npos);
        }
        EXPECT_EQ(gil_test::eval_long("6 * 7"), 42);
    }
}

// Each host wait policy delivers every result: short calls and calls longer than any spin,
// through call() (slots) and submit().get() (the queue), from more threads than cores.
TEST(CallSlots, EveryHostWaitPolicyDeliversEveryResult) {
    const pyb::HostWait before = pyb::detail::host_wait();
    for (pyb::HostWait policy : {pyb::HostWait::Spin, pyb::HostWait::Block, pyb::HostWait::Auto}) {
        pyb::detail::set_host_wait(policy);
        std::atomic<long> wrong{0};
        std::vector<std::thread> hosts;
        for (int t = 0; t < 4; ++t) {
            hosts.emplace_back([&, t] {
                for (int i = 0; i < 300; ++i) {
                    const int want = t * 1000 + i;
                    if (gil_test::interp().call([want](pyb::Python) { return want; }) != want) wrong.fetch_add(1);
                    if (i % 50 == 0) {  // longer than the adaptive spin
                        const int slow = gil_test::interp().call([want](pyb::Python) {
                            std::this_thread::sleep_for(std::chrono::milliseconds(2));
                            return want + 1;
                        });
                        if (slow != want + 1) wrong.fetch_add(1);
                    }
                    if (gil_test::interp().submit([want](pyb::Python) { return -want; }).get() != -want) wrong.fetch_add(1);
                }
            });
        }
        for (auto &h : hosts) h.join();
        EXPECT_EQ(wrong.load(), 0) << "policy " << static_cast<int>(policy);
    }
    pyb::detail::set_host_wait(before);
}
