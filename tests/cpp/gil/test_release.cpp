// Handles dropped on host threads: released on the interpreter thread, in a bounded queue;
// objects that carry their own release record (release_pool::defer), lock-free.
#include <gil/object_ref.hpp>
#include <gil/release_pool_control.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "gil_test_support.hpp"

using namespace std::chrono_literals;
using gil_test::interp;

// release_pool::decref (references a host handle does not own a record for: a tensor's
// cached view, a host function's objects) goes through the bounded queue.
TEST(Release, QueueStaysBoundedWhileTheInterpreterIsBusy) {
    const size_t n = pyb::release_pool::kMaxQueued + pyb::release_pool::kMaxQueued / 2;
    gil_test::exec("import sys\n_sentinel = object()\n");
    const long before = gil_test::eval_long("sys.getrefcount(_sentinel)");
    void *sentinel = interp().call([n](pyb::Python) -> void * {
        PyObject *main = PyImport_AddModule("__main__");
        PyObject *s = PyDict_GetItemString(PyModule_GetDict(main), "_sentinel");
        for (size_t i = 0; i < n; ++i) Py_INCREF(s);
        return s;
    });
    EXPECT_EQ(gil_test::eval_long("sys.getrefcount(_sentinel)"), before + static_cast<long>(n));

    // The interpreter is busy while a host thread releases every reference: the releaser
    // reaches the cap and waits for a drain (at most kOverflowWait, 1 s, per drain).
    ASSERT_LT(pyb::release_pool::control::peak_queued(), pyb::release_pool::kMaxQueued) << "an earlier test filled the queue";
    std::atomic<bool> started{false}, open{false};
    auto hold = interp().submit([&](pyb::Python) {
        started.store(true);
        gil_test::wait_until([&] { return open.load(); });
    });
    ASSERT_TRUE(gil_test::wait_until([&] { return started.load(); }));
    std::atomic<bool> dropped{false};
    std::thread dropper([&] {
        for (size_t i = 0; i < n; ++i) pyb::release_pool::decref(sentinel);
        dropped.store(true);
    });
    EXPECT_TRUE(gil_test::wait_until([] { return pyb::release_pool::control::peak_queued() >= pyb::release_pool::kMaxQueued; }))
        << "the releaser never reached the cap";
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(dropped.load()) << "more than the cap was queued without waiting for a drain";
    open.store(true);
    gil_test::expect_ready_within(hold, 30s, "busy call");
    hold.get();
    dropper.join();
    EXPECT_LE(pyb::release_pool::control::peak_queued(), pyb::release_pool::kMaxQueued);
    EXPECT_EQ(gil_test::eval_long("sys.getrefcount(_sentinel)"), before);  // each released exactly once
}

TEST(Release, InterpreterWaitingForADroppingThreadDoesNotDeadlock) {
    // A call on the interpreter thread waits for a host thread that releases more
    // references than the cap: nothing can drain meanwhile, so it must not wait for ever.
    const size_t n = pyb::release_pool::kMaxQueued + 1000;
    auto done = interp().submit([n](pyb::Python) {
        for (size_t i = 0; i < n; ++i) Py_INCREF(Py_None);
        std::thread dropper([n] {
            for (size_t i = 0; i < n; ++i) pyb::release_pool::decref(Py_None);
        });
        dropper.join();  // the interpreter thread waits for the dropper
        return true;
    });
    gil_test::expect_ready_within(done, 30s, "interpreter waiting on a thread over the release cap");
    EXPECT_TRUE(done.get());
}

// ObjectRef handles carry their own release record: dropped on a host thread, each
// releases its reference exactly once, on the interpreter thread, with no cap to wait on.
TEST(Release, ObjectRefsDroppedOnHostThreadsReleaseEachReferenceOnce) {
    constexpr size_t kRefs = 200000;
    gil_test::exec("import sys\n_held = object()\n");
    const long before = gil_test::eval_long("sys.getrefcount(_held)");
    auto refs = interp().call([](pyb::Python py) {
        PyObject *main = PyImport_AddModule("__main__");
        PyObject *held = PyDict_GetItemString(PyModule_GetDict(main), "_held");
        std::vector<pyb::ObjectRef> out;
        for (size_t i = 0; i < kRefs; ++i) out.push_back(pyb::ObjectRef::borrow(py, held));
        return out;
    });
    std::vector<pyb::ObjectRef> copies = refs;  // copies share a reference: no new ones
    EXPECT_EQ(gil_test::eval_long("sys.getrefcount(_held)"), before + static_cast<long>(kRefs));
    std::thread a([r = std::move(refs)]() mutable { r.clear(); });
    std::thread b([c = std::move(copies)]() mutable { c.clear(); });
    a.join();
    b.join();
    EXPECT_EQ(gil_test::eval_long("sys.getrefcount(_held)"), before);
}

namespace {

// A node of the lock-free path (release_pool::defer), recording how and where it ran.
struct Recorded : pyb::release_pool::Deferred {
    int thread = 0, seq = 0;
    std::atomic<int> runs{0};
    bool alive = false, had_gil = false;
    std::vector<std::pair<int, int>> *order = nullptr;  // appended to on the interpreter thread
    Recorded() {
        run = [](pyb::release_pool::Deferred *d, bool python_alive) {
            auto *r = static_cast<Recorded *>(d);
            r->runs.fetch_add(1);
            r->alive = python_alive;
            r->had_gil = PyGILState_Check() == 1;
            if (r->order) r->order->emplace_back(r->thread, r->seq);
        };
    }
};

}  // namespace

TEST(Release, DeferredNodesRunOnceWithTheGilInTheOrderEachThreadPushedThem) {
    constexpr int kThreads = 4, kPerThread = 20000;
    std::vector<std::unique_ptr<Recorded>> nodes;
    std::vector<std::pair<int, int>> order;
    for (int t = 0; t < kThreads; ++t) {
        for (int i = 0; i < kPerThread; ++i) {
            nodes.push_back(std::make_unique<Recorded>());
            nodes.back()->thread = t;
            nodes.back()->seq = i;
            nodes.back()->order = &order;
        }
    }
    // Pushed while the interpreter is busy (held until the first pusher is done) and while
    // it drains between calls.
    std::atomic<bool> first_done{false};
    auto hold = interp().submit([&](pyb::Python) { gil_test::wait_until([&] { return first_done.load(); }); });
    std::vector<std::thread> pushers;
    for (int t = 0; t < kThreads; ++t) {
        pushers.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) pyb::release_pool::defer(nodes[static_cast<size_t>(t * kPerThread + i)].get());
            first_done.store(true);
        });
    }
    for (auto &p : pushers) p.join();
    hold.get();
    interp().call([](pyb::Python) { return 0; });  // the loop drains before every call
    ASSERT_EQ(order.size(), nodes.size());
    std::vector<int> next(kThreads, 0);
    for (const auto &[t, seq] : order) {
        EXPECT_EQ(seq, next[static_cast<size_t>(t)]) << "thread " << t << "'s releases ran out of order";
        next[static_cast<size_t>(t)] = seq + 1;
    }
    for (const auto &n : nodes) {
        ASSERT_EQ(n->runs.load(), 1);
        EXPECT_TRUE(n->alive);
        EXPECT_TRUE(n->had_gil);
    }
}

TEST(Release, DeferredOnTheInterpreterThreadRunsAtOnce) {
    Recorded node;
    const int runs_inside = interp().call([&](pyb::Python) {
        pyb::release_pool::defer(&node);
        return node.runs.load();
    });
    EXPECT_EQ(runs_inside, 1);
    EXPECT_TRUE(node.alive);
}

// A host thread that owns a call slot defers through its own ring: each release runs once,
// with the GIL, before that thread's next call; past the ring's size, through the shared
// stack.
TEST(Release, DeferredFromThreadsWithACallSlotRunBeforeTheirNextCall) {
    constexpr int kThreads = 4, kPerThread = 5000;
    std::vector<std::thread> threads;
    std::atomic<int> stale{0};
    std::vector<std::unique_ptr<Recorded>> burst;
    for (int i = 0; i < kThreads * kPerThread; ++i) burst.push_back(std::make_unique<Recorded>());
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            interp().call([](pyb::Python) { return 0; });  // claims this thread's slot
            for (int i = 0; i < kPerThread; ++i) {
                Recorded node;
                pyb::release_pool::defer(&node);
                if (interp().call([&](pyb::Python) { return node.runs.load(); }) != 1) stale.fetch_add(1);
            }
            // A burst, more than the ring holds.
            for (int i = 0; i < kPerThread; ++i) pyb::release_pool::defer(burst[static_cast<size_t>(t * kPerThread + i)].get());
        });
    }
    for (auto &t : threads) t.join();
    interp().call([](pyb::Python) { return 0; });
    EXPECT_EQ(stale.load(), 0) << "a release had not run before the releasing thread's next call";
    for (const auto &n : burst) {
        ASSERT_EQ(n->runs.load(), 1);
        EXPECT_TRUE(n->alive);
        EXPECT_TRUE(n->had_gil);
    }
}

// A thread's releases keep their order when its ring overflows to the shared stack.
TEST(Release, AThreadsReleasesKeepTheirOrderPastItsRing) {
    constexpr int kNodes = 200;  // more than a ring holds
    std::vector<std::unique_ptr<Recorded>> nodes;
    std::vector<std::pair<int, int>> order;
    for (int i = 0; i < kNodes; ++i) {
        nodes.push_back(std::make_unique<Recorded>());
        nodes.back()->seq = i;
        nodes.back()->order = &order;
    }
    std::thread releaser([&] {
        interp().call([](pyb::Python) { return 0; });  // claims this thread's slot
        std::atomic<bool> started{false}, pushed{false};
        auto hold = interp().submit([&](pyb::Python) {  // no drain until every node is pushed
            started.store(true);
            gil_test::wait_until([&] { return pushed.load(); });
        });
        while (!started.load()) std::this_thread::yield();
        for (auto &n : nodes) pyb::release_pool::defer(n.get());
        pushed.store(true);
        hold.get();
        interp().call([](pyb::Python) { return 0; });
    });
    releaser.join();
    ASSERT_EQ(order.size(), static_cast<size_t>(kNodes));
    for (int i = 0; i < kNodes; ++i) EXPECT_EQ(order[static_cast<size_t>(i)].second, i);
}

// Queued calls (submit) run after the releases their thread made before queueing them.
TEST(Release, QueuedCallsRunAfterTheReleasesMadeBeforeThem) {
    std::atomic<int> stale{0};
    std::thread t([&] {  // no call slot: its releases take the shared stack
        for (int i = 0; i < 3000; ++i) {
            Recorded node;
            pyb::release_pool::defer(&node);
            if (interp().submit([&](pyb::Python) { return node.runs.load(); }).get() != 1) stale.fetch_add(1);
        }
    });
    t.join();
    EXPECT_EQ(stale.load(), 0);
}
