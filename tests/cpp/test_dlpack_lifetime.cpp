// DLPack lifetimes across threads: 10,000 hand-offs each way, every handle dropped on a
// random host thread; every release runs exactly once (host buffers: the callback; torch
// tensors: torch's deleter, on the interpreter thread), nothing leaks, nothing hangs.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "shared_bridge.hpp"

using pyb_test::bridge;

namespace {

constexpr int kHandoffs = 10000;
constexpr int kThreads = 4;

// Drops `items` spread over kThreads host threads, in a shuffled order.
template <class T>
void drop_on_random_threads(std::vector<T> &items) {
    std::mt19937 rng(42);
    std::shuffle(items.begin(), items.end(), rng);
    std::vector<std::vector<T>> per_thread(kThreads);
    for (size_t i = 0; i < items.size(); ++i) per_thread[rng() % kThreads].push_back(std::move(items[i]));
    items.clear();
    std::vector<std::thread> threads;
    for (auto &batch : per_thread) threads.emplace_back([b = std::move(batch)]() mutable { b.clear(); });
    for (auto &t : threads) t.join();
}

}  // namespace

TEST(DLPackLifetime, HostBuffersLentToTorchAreReleasedExactlyOnceEach) {
    bridge().exec("import torch\n_kept = []\n");
    std::vector<float> data(kHandoffs, 0.0f);
    std::vector<std::atomic<int>> released(kHandoffs);
    std::vector<pyb::Tensor> host;
    for (int i = 0; i < kHandoffs; ++i) {
        host.push_back(pyb::Tensor::from_buffer(&data[static_cast<size_t>(i)], {1}, pyb::dtype_of<float>(), {},
                                                [&released, i] { released[static_cast<size_t>(i)].fetch_add(1); }));
    }
    // Python keeps a torch view of each one (the last user will be Python for half of them).
    const pyb::ObjectRef keep = bridge().eval("_kept.append").as_object();
    for (const pyb::Tensor &t : host) bridge().call(keep, {t});
    drop_on_random_threads(host);
    int before = 0;
    for (auto &r : released) before += r.load();
    EXPECT_EQ(before, 0);  // torch still holds every one
    bridge().exec("_kept[0].add_(5)\n_kept.clear()\n");
    EXPECT_EQ(data[0], 5.0f);  // torch's views were the host memory
    for (int i = 0; i < kHandoffs; ++i) ASSERT_EQ(released[static_cast<size_t>(i)].load(), 1) << "buffer " << i;
}

TEST(DLPackLifetime, TorchTensorsViewedByTheHostAreFreedOnTheInterpreterThread) {
    // Each torch tensor's storage is watched with a weakref on a numpy base: freeing it
    // records the thread (the interpreter thread, where torch's deleter must run).
    bridge().exec(
        "import numpy, threading, torch, weakref\n"
        "_freed = []\n"
        "_watch = []\n"
        "def _make(n):\n"
        "    out = []\n"
        "    for i in range(n):\n"
        "        a = numpy.full(2, float(i))\n"
        "        _watch.append(weakref.ref(a, lambda _: _freed.append(threading.get_ident())))\n"
        "        out.append(torch.from_numpy(a))\n"
        "    return out\n");
    pyb::Value made = bridge().eval(("_make(" + std::to_string(kHandoffs) + ")").c_str());
    std::vector<pyb::Tensor> views;
    for (const pyb::Value &v : made.as_list().items) views.push_back(v.as_tensor());
    ASSERT_EQ(views.size(), static_cast<size_t>(kHandoffs));
    EXPECT_EQ(views[1234].data_as<double>()[1], 1234.0);
    EXPECT_EQ(bridge().eval("len(_freed)").as_int(), 0);
    made = pyb::Value();
    drop_on_random_threads(views);
    // Drops queued on host threads are applied before the next call runs.
    EXPECT_EQ(bridge().eval("len(_freed)").as_int(), kHandoffs);
    EXPECT_TRUE(bridge().eval("set(_freed) == {threading.get_ident()}").as_bool());
    bridge().exec("_watch.clear()\n");
}
