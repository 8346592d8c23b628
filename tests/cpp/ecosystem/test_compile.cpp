// torch.compile driven from a host: a function given as Python source text, compiled with
// inductor on CPU using compile worker processes, called with host tensors through DLPack.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "../shared_bridge.hpp"

namespace {

pyb::Bridge &py() { return pyb_test::bridge(); }

// A host tensor of `shape` filled with sin(seed + 0.37 i): fixed, varied values.
struct HostTensor {
    std::vector<float> data;
    pyb::Tensor tensor;
    HostTensor(std::vector<std::int64_t> shape, float seed) {
        std::int64_t n = 1;
        for (auto d : shape) n *= d;
        for (std::int64_t i = 0; i < n; ++i) data.push_back(std::sin(seed + 0.37f * static_cast<float>(i)));
        tensor = pyb::Tensor::from_buffer(data.data(), std::move(shape), pyb::dtype_of<float>());
    }
};

double max_abs_diff(const pyb::Tensor &a, const pyb::Tensor &b) {
    EXPECT_EQ(a.shape(), b.shape());
    EXPECT_TRUE(a.is_contiguous() && b.is_contiguous());
    double worst = 0;
    for (std::int64_t i = 0; i < a.numel(); ++i)
        worst = std::max(worst, std::fabs(double(a.data_as<float>()[i]) - double(b.data_as<float>()[i])));
    return worst;
}

}  // namespace

TEST(Compile, InductorCompiledSourceEqualsEagerAndIsCompiledOnce) {
    py().exec(
        "import torch, torch._dynamo, torch._inductor.config\n"
        "torch._inductor.config.compile_threads = 2  # a pool of compile worker processes\n"
        "torch._dynamo.reset()\n"
        "torch._dynamo.utils.counters.clear()\n"
        "_source = '''\n"
        "import torch\n"
        "def block(x, w1, w2):\n"
        "    return torch.nn.functional.gelu(x @ w1) @ w2\n"
        "'''\n"
        "_ns = {}\n"
        "exec(compile(_source, '<host source>', 'exec'), _ns)\n"
        "_eager = _ns['block']\n"
        "_compiled = torch.compile(_eager, backend='inductor')\n");
    HostTensor x({8, 16}, 0.1f), w1({16, 32}, 1.3f), w2({32, 4}, 2.9f);
    const pyb::ObjectRef compiled = py().eval_ref("_compiled"), eager = py().eval_ref("_eager");
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const pyb::Value first = py().call(compiled, {x.tensor, w1.tensor, w2.tensor});
    const double first_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> later_ms;
    pyb::Value second;
    for (int i = 0; i < 9; ++i) {
        const auto t = Clock::now();
        second = py().call(compiled, {x.tensor, w1.tensor, w2.tensor});
        later_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    }
    const pyb::Value reference = py().call(eager, {x.tensor, w1.tensor, w2.tensor});
    std::sort(later_ms.begin(), later_ms.end());
    std::printf("torch.compile from the host: first call %.2f s (compiles), later calls %.3f ms (median of 9)\n",
                first_s, later_ms[4]);

    ASSERT_EQ(reference.as_tensor().shape(), (std::vector<std::int64_t>{8, 4}));
    EXPECT_LE(max_abs_diff(first.as_tensor(), reference.as_tensor()), 1e-5);
    EXPECT_LE(max_abs_diff(second.as_tensor(), reference.as_tensor()), 1e-5);
    EXPECT_GT(std::fabs(reference.as_tensor().data_as<float>()[0]), 1e-3);  // not all zeros
    // One graph compiled; the second call reused it.
    EXPECT_EQ(py().eval("torch._dynamo.utils.counters['stats']['unique_graphs']").as_int(), 1);

}

TEST(Compile, InductorCompileWorkerProcessesStartWithTheEnvironmentsPython) {
    // inductor compiles CPU kernels on threads; its worker processes (a SubprocPool, used
    // for GPU kernels) are started here explicitly and given a job.
    py().exec(
        "import os, sys, torch._inductor.config\n"
        "from torch._inductor.async_compile import AsyncCompile\n"
        "torch._inductor.config.compile_threads = 2\n"
        "AsyncCompile.warm_pool()\n"
        "_answer = AsyncCompile.process_pool().submit(AsyncCompile._get_ready).result(timeout=300)\n"
        "def _children():\n"
        "    me, found = os.getpid(), []\n"
        "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "        try:\n"
        "            with open(f'/proc/{pid}/stat') as f:\n"
        "                ppid = int(f.read().rsplit(')', 1)[1].split()[1])\n"
        "            with open(f'/proc/{pid}/cmdline', 'rb') as f:\n"
        "                argv = [a.decode() for a in f.read().split(b'\\0') if a]\n"
        "        except OSError:\n"
        "            continue\n"
        "        if ppid == me:\n"
        "            found.append(argv)\n"
        "    return found\n"
        "_workers = [a for a in _children() if any('compile_worker' in x for x in a)]\n");
    EXPECT_EQ(py().eval("_answer").as_str(), "ready");  // a job ran in a worker process
    ASSERT_GE(py().eval("len(_workers)").as_int(), 1) << py().eval("repr(_children())").as_str();
    EXPECT_EQ(py().eval("_workers[0][0]").as_str(), py().eval("sys.executable").as_str());
}
