// bench/op: calling a torch operation from the host through an Op handle, beside the same
// loop in plain Python, in one run.
//
// Cases (float32), measured in interleaved rounds (bench::Rounds): each round runs every
// case of a group once, so the ratios below are medians of per-round ratios:
//   torch.add on two (16,) tensors, 2,000 calls per case and round, 75 rounds:
//     plain Python: `for _ in range(n): torch.add(a, b)` in the same interpreter;
//     pybridge: host tensors in (DLPack through torch's C exchange table), host view out;
//     pybridge, host tensors keeping their torch view (Tensor::keep_python_view): the same
//       two torch tensor objects each call, as in the plain Python loop;
//     pybridge, C exchange API off: the same through __dlpack__ capsules;
//     pybridge, tensors kept in Python: handles in, handle out (no conversion);
//   scaled_dot_product_attention on (1, 8, 128, 64) q, k, v, 20 calls per case and round, 75 rounds:
//     the same pybridge loops (fresh views, kept views) and plain-Python loop, and the split
//     of one call's hand-off (host -> Python start, Python end -> host) from timestamps on
//     both sides.
// Times are per call, measured on the host thread for pybridge (so they include the hand-off
// to the interpreter thread and the result's release) and inside Python for plain Python.
#include <bridge/pybridge.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench_report.hpp"

namespace {

using Clock = std::chrono::steady_clock;

void row(const char *label, const bench::Stats &s) {
    std::printf("  %-52s %10.3f us  (%.3f..%.3f)\n", label, s.median, s.min, s.max);
}

void ratio_row(const char *label, const bench::Stats &s) {
    std::printf("    %-50s %10.3f x   (%.3f..%.3f)\n", label, s.median, s.min, s.max);
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
        "    return time.perf_counter() - t0\n"
        "def _stamped(fn, args):\n"
        "    t0 = time.monotonic_ns()\n"
        "    fn(*args)\n"
        "    return (t0, time.monotonic_ns())\n");
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
    const pyb::Tensor ka = pyb::Tensor::from_buffer(a.data(), {16}, pyb::dtype_of<float>());
    const pyb::Tensor kb = pyb::Tensor::from_buffer(b.data(), {16}, pyb::dtype_of<float>());
    ka.keep_python_view();
    kb.keep_python_view();
    constexpr long kSmall = 2000;
    constexpr int kRounds = 75;
    bench::Rounds small;
    const int plain = small.add([&](long n) { return py.call(loop, {pyb::Value(add_fn), torch_args, n}).as_float() * 1e6 / static_cast<double>(n); });
    const int exchange = small.add([&](long n) {
        for (long i = 0; i < n; ++i) (void)add({ta, tb}).as_tensor();
        return -1.0;
    });
    const int kept = small.add([&](long n) {
        for (long i = 0; i < n; ++i) (void)add({ka, kb}).as_tensor();
        return -1.0;
    });
    const int dunder = small.add([&](long n) {
        pyb::dlpack::set_exchange_api_enabled(false);
        const auto t0 = Clock::now();
        for (long i = 0; i < n; ++i) (void)add({ta, tb}).as_tensor();
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / static_cast<double>(n);
        pyb::dlpack::set_exchange_api_enabled(true);
        return us;
    });
    const int handles = small.add([&](long n) {
        for (long i = 0; i < n; ++i) (void)add.call_ref({pyb::Value(ha), pyb::Value(hb)});
        return -1.0;
    });
    const bench::Stats floor_before = bench::cacheline_pingpong_us();
    small.run(kRounds, kSmall);

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
    constexpr long kAttention = 20;
    bench::Rounds attention;
    const int sdpa_plain = attention.add([&](long n) {
        return py.call(loop, {pyb::Value(sdpa.callable()), sdpa_args, n}).as_float() * 1e6 / static_cast<double>(n);
    });
    const int sdpa_host = attention.add([&](long n) {
        for (long i = 0; i < n; ++i) (void)sdpa({tq, tk, tv}).as_tensor();
        return -1.0;
    });
    const pyb::Tensor kq = qkv(q), kk = qkv(k), kv = qkv(v);
    for (const pyb::Tensor *t : {&kq, &kk, &kv}) t->keep_python_view();
    const int sdpa_kept = attention.add([&](long n) {
        for (long i = 0; i < n; ++i) (void)sdpa({kq, kk, kv}).as_tensor();
        return -1.0;
    });
    // Where the time of one call goes around Python: host -> Python starts (in), Python
    // ends -> the host has the result (out). steady_clock and time.monotonic_ns() read
    // the same clock (CLOCK_MONOTONIC).
    const pyb::ObjectRef stamped = py.eval_ref("_stamped");
    std::vector<double> hand_in, hand_out;
    attention.add([&](long n) {
        for (long i = 0; i < n; ++i) {
            const auto before = Clock::now();
            const pyb::Value r = py.call(stamped, {pyb::Value(sdpa.callable()), sdpa_args});
            const auto after = Clock::now();
            const auto &t = r.as_tuple().items;
            hand_in.push_back(static_cast<double>(t[0].as_int() - before.time_since_epoch().count()) / 1e3);
            hand_out.push_back(static_cast<double>(after.time_since_epoch().count() - t[1].as_int()) / 1e3);
        }
        return -1.0;
    });
    attention.run(kRounds, kAttention);
    const bench::Stats sdpa_in = bench::summary(hand_in), sdpa_out = bench::summary(hand_out);
    const bench::Stats floor_after = bench::cacheline_pingpong_us();

    std::printf("Op calls from the host vs plain Python (per call; median of %d interleaved rounds, min..max)\n", kRounds);
    std::printf("cache-line ping-pong between two threads (the floor of any hand-off): %.3f us before, %.3f us after\n",
                floor_before.median, floor_after.median);
    std::printf("torch.add, two float32 (16,) tensors, %ld calls per case and round\n", kSmall);
    row("pybridge: host tensors in, host view out", small.stats(exchange));
    row("pybridge: same, tensors keep their torch view", small.stats(kept));
    row("pybridge, C exchange API off (__dlpack__ capsules)", small.stats(dunder));
    row("pybridge: tensors kept in Python (handles)", small.stats(handles));
    row("plain Python loop", small.stats(plain));
    std::printf("  per-round ratios (median, min..max):\n");
    ratio_row("fresh views / plain Python", small.ratio(exchange, plain));
    ratio_row("kept views / plain Python", small.ratio(kept, plain));
    ratio_row("handles / plain Python", small.ratio(handles, plain));
    ratio_row("C exchange API / __dlpack__", small.ratio(exchange, dunder));
    std::printf("scaled_dot_product_attention, (1, 8, 128, 64) float32, %ld calls per case and round\n", kAttention);
    row("pybridge: host tensors in, host view out", attention.stats(sdpa_host));
    row("pybridge: same, tensors keep their torch view", attention.stats(sdpa_kept));
    row("plain Python loop", attention.stats(sdpa_plain));
    const bench::Stats sdpa_fresh_ratio = attention.ratio(sdpa_host, sdpa_plain);
    const bench::Stats sdpa_ratio = attention.ratio(sdpa_kept, sdpa_plain);
    ratio_row("fresh views / plain Python", sdpa_fresh_ratio);
    ratio_row("kept views / plain Python", sdpa_ratio);
    std::printf("  hand-off around one call: host -> Python %.1f us (%.1f..%.1f), Python -> host %.1f us (%.1f..%.1f)\n",
                sdpa_in.median, sdpa_in.min, sdpa_in.max, sdpa_out.median, sdpa_out.min, sdpa_out.max);
    std::printf("    (the host sleeps through a long call; waking it costs what Python -> host shows)\n");

    report.result("op.add16.pybridge", small.stats(exchange).median, "us");
    report.result("op.add16.pybridge_kept_views", small.stats(kept).median, "us");
    report.result("op.add16.pybridge_fresh_views_over_plain_python", small.ratio(exchange, plain).median, "x");
    report.result("op.add16.pybridge_dunder_dlpack", small.stats(dunder).median, "us");
    report.result("op.add16.pybridge_handles", small.stats(handles).median, "us");
    report.result("op.add16.plain_python", small.stats(plain).median, "us");
    report.result("op.sdpa.pybridge", attention.stats(sdpa_host).median, "us");
    report.result("op.sdpa.pybridge_kept_views", attention.stats(sdpa_kept).median, "us");
    report.result("op.sdpa.plain_python", attention.stats(sdpa_plain).median, "us");
    report.result("op.sdpa.pybridge_fresh_views_over_plain_python", sdpa_fresh_ratio.median, "x");
    report.result("op.cacheline_pingpong", floor_before.median, "us");
    report.result("op.sdpa.handoff_in", sdpa_in.median, "us");
    report.result("op.sdpa.handoff_out", sdpa_out.median, "us");
    // The plain loop passes the same two tensor objects each time: so do kept views.
    report.ratio("op.add16.pybridge_over_plain_python", small.ratio(kept, plain).median, "<=", 2);
    report.ratio("op.add16.handles_over_plain_python", small.ratio(handles, plain).median, "<=", 2);
    report.ratio("op.add16.exchange_over_dunder_dlpack", small.ratio(exchange, dunder).median, "<=", 0.9);
    // Likewise for attention: the plain loop passes the same q, k, v objects each time.
    report.ratio("op.sdpa.pybridge_over_plain_python", sdpa_ratio.median, "<=", 1.05);
    py.stop();
    report.print();
    return 0;
}
