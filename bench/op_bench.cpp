// bench/op: calling a torch operation from the host through an Op handle, beside the same
// loop in plain Python, in one run.
//
// Cases (float32; median of 5 samples after a warm-up, host and Python samples alternating):
//   torch.add on two (16,) tensors, 100,000 calls per sample:
//     pybridge: host tensors in (DLPack through torch's C exchange table), host view out;
//     pybridge, host tensors keeping their torch view (Tensor::keep_python_view): the same
//       two torch tensor objects each call, as in the plain Python loop;
//     pybridge, C exchange API off: the same through __dlpack__ capsules;
//     pybridge, tensors kept in Python: handles in, handle out (no conversion);
//     plain Python: `for _ in range(n): torch.add(a, b)` in the same interpreter;
//   scaled_dot_product_attention on (1, 8, 128, 64) q, k, v, 50 calls per sample: the
//     same pybridge and plain-Python loops.
// Times are per call, measured on the host thread for pybridge (so they include the hand-off
// to the interpreter thread) and inside Python for plain Python.
#include <bridge/pybridge.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench_report.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Pair {
    bench::Stats host, python;
};

bench::Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

// Alternates host samples (host_loop(n), timed here) and Python samples (python_loop
// returns its own seconds); microseconds per call.
template <class HostLoop, class PythonLoop>
Pair alternate(long n, HostLoop host_loop, PythonLoop python_loop) {
    host_loop(n / 10);  // warm-up
    python_loop(n / 10);
    std::vector<double> h, p;
    for (int s = 0; s < 5; ++s) {
        const auto t0 = Clock::now();
        host_loop(n);
        h.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / static_cast<double>(n));
        p.push_back(python_loop(n) * 1e6 / static_cast<double>(n));
    }
    return {stats(h), stats(p)};
}

void row(const char *label, const bench::Stats &s) {
    std::printf("  %-52s %10.3f us  (%.3f..%.3f)\n", label, s.median, s.min, s.max);
}

std::vector<float> filled(size_t n, float seed) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::sin(seed + 0.1f * static_cast<float>(i));
    return v;
}

}  // namespace

int main() {
    pyb::Bridge py;
    py.exec(
        "import time, torch\n"
        "def _loop(fn, args, n):\n"
        "    t0 = time.perf_counter()\n"
        "    for _ in range(n):\n"
        "        fn(*args)\n"
        "    return time.perf_counter() - t0\n");
    const pyb::ObjectRef loop = py.eval_ref("_loop");
    bench::Report report;

    // --- torch.add on (16,) --------------------------------------------------------------
    std::vector<float> a = filled(16, 0.f), b = filled(16, 1.f);
    const pyb::Tensor ta = pyb::Tensor::from_buffer(a.data(), {16}, pyb::dtype_of<float>());
    const pyb::Tensor tb = pyb::Tensor::from_buffer(b.data(), {16}, pyb::dtype_of<float>());
    const pyb::Op add = pyb::Op::resolve(py, "torch.add");
    const pyb::ObjectRef add_fn = add.callable();
    const pyb::ObjectRef ha = pyb::to_torch(py, ta), hb = pyb::to_torch(py, tb);
    const pyb::Value torch_args = pyb::Value(pyb::Tuple{{pyb::Value(ha), pyb::Value(hb)}});
    auto python_add = [&](long n) { return py.call(loop, {pyb::Value(add_fn), torch_args, n}).as_float(); };
    constexpr long kSmall = 100000;

    const Pair exchange = alternate(kSmall, [&](long n) {
        for (long i = 0; i < n; ++i) (void)add({ta, tb}).as_tensor();
    }, python_add);
    const pyb::Tensor ka = pyb::Tensor::from_buffer(a.data(), {16}, pyb::dtype_of<float>());
    const pyb::Tensor kb = pyb::Tensor::from_buffer(b.data(), {16}, pyb::dtype_of<float>());
    ka.keep_python_view();
    kb.keep_python_view();
    const Pair kept = alternate(kSmall, [&](long n) {
        for (long i = 0; i < n; ++i) (void)add({ka, kb}).as_tensor();
    }, python_add);
    pyb::dlpack::set_exchange_api_enabled(false);
    const Pair dunder = alternate(kSmall, [&](long n) {
        for (long i = 0; i < n; ++i) (void)add({ta, tb}).as_tensor();
    }, python_add);
    pyb::dlpack::set_exchange_api_enabled(true);
    const Pair handles = alternate(kSmall, [&](long n) {
        for (long i = 0; i < n; ++i) (void)add.call_ref({pyb::Value(ha), pyb::Value(hb)});
    }, python_add);

    // --- scaled_dot_product_attention on (1, 8, 128, 64) ---------------------------------
    const size_t elems = 1 * 8 * 128 * 64;
    std::vector<float> q = filled(elems, 0.f), k = filled(elems, 2.f), v = filled(elems, 4.f);
    auto qkv = [&](std::vector<float> &x) {
        return pyb::Tensor::from_buffer(x.data(), {1, 8, 128, 64}, pyb::dtype_of<float>());
    };
    const pyb::Tensor tq = qkv(q), tk = qkv(k), tv = qkv(v);
    const pyb::Op sdpa = pyb::Op::resolve(py, "torch.nn.functional.scaled_dot_product_attention");
    const pyb::Value sdpa_args = pyb::Value(pyb::Tuple{{pyb::Value(pyb::to_torch(py, tq)), pyb::Value(pyb::to_torch(py, tk)),
                                                        pyb::Value(pyb::to_torch(py, tv))}});
    constexpr long kAttention = 50;
    const Pair attention = alternate(kAttention, [&](long n) {
        for (long i = 0; i < n; ++i) (void)sdpa({tq, tk, tv}).as_tensor();
    }, [&](long n) { return py.call(loop, {pyb::Value(sdpa.callable()), sdpa_args, n}).as_float(); });

    std::printf("Op calls from the host vs plain Python (per call; median of 5, min..max)\n");
    std::printf("torch.add, two float32 (16,) tensors, 100,000 calls per sample\n");
    row("pybridge: host tensors in, host view out", exchange.host);
    row("pybridge: same, tensors keep their torch view", kept.host);
    row("pybridge, C exchange API off (__dlpack__ capsules)", dunder.host);
    row("pybridge: tensors kept in Python (handles)", handles.host);
    row("plain Python loop", exchange.python);
    std::printf("scaled_dot_product_attention, (1, 8, 128, 64) float32, 50 calls per sample\n");
    row("pybridge: host tensors in, host view out", attention.host);
    row("plain Python loop", attention.python);
    std::printf("  bridge overhead on attention: %+.2f%%\n", 100.0 * (attention.host.median / attention.python.median - 1));

    report.result("op.add16.pybridge", exchange.host.median, "us");
    report.result("op.add16.pybridge_kept_views", kept.host.median, "us");
    report.result("op.add16.pybridge_fresh_views_over_plain_python", exchange.host.median / exchange.python.median, "x");
    report.result("op.add16.pybridge_dunder_dlpack", dunder.host.median, "us");
    report.result("op.add16.pybridge_handles", handles.host.median, "us");
    report.result("op.add16.plain_python", exchange.python.median, "us");
    report.result("op.sdpa.pybridge", attention.host.median, "us");
    report.result("op.sdpa.plain_python", attention.python.median, "us");
    // The plain loop passes the same two tensor objects each time: so do kept views.
    report.ratio("op.add16.pybridge_over_plain_python", kept.host.median / kept.python.median, "<=", 2);
    report.ratio("op.add16.handles_over_plain_python", handles.host.median / handles.python.median, "<=", 2);
    report.ratio("op.add16.exchange_over_dunder_dlpack", exchange.host.median / dunder.host.median, "<=", 0.9);
    report.ratio("op.sdpa.pybridge_over_plain_python", attention.host.median / attention.python.median, "<=", 1.05);
    py.stop();
    report.print();
    return 0;
}
