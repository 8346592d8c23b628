// bench/dlpack: the zero-copy hand-off host -> torch -> host, beside a memcpy of the same
// bytes, for 4 KiB, 1 MiB, 64 MiB and 1 GiB float32 tensors, in one run.
//
// Timed: inside one call on the interpreter thread, `kInner` hand-offs, each one
// tensor_to_python (capsule + torch.from_dlpack) then tensor_from_python (torch's DLPack
// export + adopt) and the release of both (the host view drops torch's tensor, which
// drops its view of the host buffer). The dispatch to the interpreter thread is outside
// the timing. Baseline: memcpy of the same number of bytes into a pre-touched buffer.
// Median of 7 samples after a warm-up; spread is min..max.
#include <bridge/pybridge.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
    double median, min, max;  // microseconds per operation
};

template <class F>
Stats measure(int samples, int inner, F &&op) {
    op();  // warm-up
    std::vector<double> us;
    for (int s = 0; s < samples; ++s) {
        const auto t0 = Clock::now();
        for (int i = 0; i < inner; ++i) op();
        const std::chrono::duration<double, std::micro> d = Clock::now() - t0;
        us.push_back(d.count() / inner);
    }
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us.front(), us.back()};
}

}  // namespace

int main() {
    pyb::Bridge bridge;
    bridge.exec("import torch\n");

    struct Size {
        const char *name;
        size_t bytes;
        int inner;
    };
    const Size sizes[] = {{"4KiB", 4u << 10, 2000}, {"1MiB", 1u << 20, 2000}, {"64MiB", 64u << 20, 200},
                          {"1GiB", 1u << 30, 20}};
    struct Row {
        const char *name;
        Stats handoff, copy;
    };
    std::vector<Row> rows;
    for (const Size &size : sizes) {
        std::vector<float> src(size.bytes / sizeof(float), 1.0f), dst(src.size(), 0.0f);
        const pyb::Tensor host = pyb::Tensor::from_buffer(src.data(), {static_cast<std::int64_t>(src.size())},
                                                          pyb::dtype_of<float>());
        const Stats handoff = bridge.interpreter().call([&](pyb::Python py) {
            return measure(7, size.inner, [&] {
                PyObject *t = pyb::tensor_to_python(py, host);
                pyb::Tensor back = pyb::tensor_from_python(py, t);
                Py_DECREF(t);
                if (back.data() != src.data()) std::abort();  // zero-copy or the figure is meaningless
            });
        });
        const int copy_inner = size.bytes >= (64u << 20) ? 3 : size.inner;
        const Stats copy = measure(7, copy_inner, [&] {
            std::memcpy(dst.data(), src.data(), size.bytes);
            asm volatile("" : : "r"(dst.data()) : "memory");
        });
        rows.push_back({size.name, handoff, copy});
    }
    bridge.stop();

    std::printf("DLPack hand-off host -> torch -> host (float32, zero-copy) vs memcpy of the same bytes\n");
    std::printf("%-6s %14s %22s %14s %22s %12s\n", "size", "handoff us", "spread", "memcpy us", "spread", "memcpy/hand");
    for (const Row &r : rows) {
        std::printf("%-6s %14.3f %10.3f..%-10.3f %14.3f %10.1f..%-10.1f %12.1f\n", r.name, r.handoff.median,
                    r.handoff.min, r.handoff.max, r.copy.median, r.copy.min, r.copy.max,
                    r.copy.median / r.handoff.median);
    }
    for (const Row &r : rows) {
        std::printf("RESULT name=dlpack.handoff_%s.pybridge value=%.3f unit=us\n", r.name, r.handoff.median);
        std::printf("RESULT name=dlpack.handoff_%s.memcpy value=%.3f unit=us\n", r.name, r.copy.median);
    }
    const double flat = rows.back().handoff.median / rows.front().handoff.median;
    const double speedup = rows.back().copy.median / rows.back().handoff.median;
    std::printf("RATIO  name=dlpack.handoff_1GiB_over_4KiB value=%.3f target<=1.5 status=%s\n", flat,
                flat <= 1.5 ? "PASS" : "MISS");
    std::printf("RATIO  name=dlpack.memcpy_over_handoff_1GiB value=%.1f target>=10000 status=%s\n", speedup,
                speedup >= 10000 ? "PASS" : "MISS");
    return 0;
}
