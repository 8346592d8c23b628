// bench/dlpack: the zero-copy hand-off host -> torch -> host, beside a memcpy of the same
// bytes, for 4 KiB, 1 MiB, 64 MiB and 1 GiB float32 tensors, in one run.
//
// Timed: inside one call on the interpreter thread, `inner` hand-offs, each one
// tensor_to_python then tensor_from_python, and the release of both (the host view drops
// torch's tensor, which drops its view of the host buffer). The dispatch to the interpreter
// thread is outside the timing. Two ways, samples alternating:
//   C exchange API: torch's DLPackExchangeAPI table both ways (one C call each way);
//   __dlpack__:     a "dltensor_versioned" capsule to torch._C._from_dlpack, and back
//                   through torch's tensor.__dlpack__(max_version=(1, 3)) (the protocol path
//                   every consumer can take).
// Baseline: memcpy of the same number of bytes into a pre-touched buffer.
// Then host -> torch alone for a 4 KiB tensor, fresh view (the default) vs kept view
// (Tensor::keep_python_view: the kept torch tensor, after the check that it still views
// the memory), tensor_to_python plus dropping the torch tensor, samples alternating.
// Median of 7 samples after a warm-up; spread is min..max.
#include <bridge/pybridge.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bench_report.hpp"

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
        bench::Stats handoff, dunder, copy;
    };
    std::vector<Row> rows;
    for (const Size &size : sizes) {
        std::vector<float> src(size.bytes / sizeof(float), 1.0f), dst(src.size(), 0.0f);
        const pyb::Tensor host = pyb::Tensor::from_buffer(src.data(), {static_cast<std::int64_t>(src.size())},
                                                          pyb::dtype_of<float>());
        const auto [handoff, dunder] = bridge.interpreter().call([&](pyb::Python py) {
            return bench::measure_pair_us(
                7, size.inner,
                [&] {
                    pyb::dlpack::set_exchange_api_enabled(true);
                    PyObject *t = pyb::tensor_to_python(py, host);
                    pyb::Tensor back = pyb::tensor_from_python(py, t);
                    Py_DECREF(t);
                    if (back.data() != src.data()) std::abort();  // zero-copy or the figure is meaningless
                },
                [&] {
                    pyb::dlpack::set_exchange_api_enabled(false);
                    PyObject *t = pyb::tensor_to_python(py, host);
                    pyb::Tensor back = pyb::tensor_from_dlpack(py, t);
                    Py_DECREF(t);
                    if (back.data() != src.data()) std::abort();
                });
        });
        pyb::dlpack::set_exchange_api_enabled(true);
        const int copy_inner = size.bytes >= (64u << 20) ? 3 : size.inner;
        const bench::Stats copy = bench::measure_us(7, copy_inner, [&] {
            std::memcpy(dst.data(), src.data(), size.bytes);
            asm volatile("" : : "r"(dst.data()) : "memory");
        });
        rows.push_back({size.name, handoff, dunder, copy});
    }
    // Host -> torch alone: a fresh view each time vs the kept one.
    std::vector<float> small(1024, 1.0f);
    const pyb::Tensor fresh = pyb::Tensor::from_buffer(small.data(), {1024}, pyb::dtype_of<float>());
    const pyb::Tensor kept = pyb::Tensor::from_buffer(small.data(), {1024}, pyb::dtype_of<float>());
    kept.keep_python_view();
    const auto [lend_fresh, lend_kept] = bridge.interpreter().call([&](pyb::Python py) {
        return bench::measure_pair_us(
            7, 100000, [&] { Py_DECREF(pyb::tensor_to_python(py, fresh)); },
            [&] { Py_DECREF(pyb::tensor_to_python(py, kept)); });
    });
    bridge.stop();

    std::printf("DLPack hand-off host -> torch -> host (float32, zero-copy) vs memcpy of the same bytes\n");
    std::printf("%-6s %12s %18s %12s %18s %12s %22s %12s\n", "size", "C API us", "spread", "__dlpack__", "spread",
                "memcpy us", "spread", "memcpy/C API");
    for (const Row &r : rows) {
        std::printf("%-6s %12.3f %8.3f..%-8.3f %12.3f %8.3f..%-8.3f %12.3f %10.1f..%-10.1f %12.1f\n", r.name,
                    r.handoff.median, r.handoff.min, r.handoff.max, r.dunder.median, r.dunder.min, r.dunder.max,
                    r.copy.median, r.copy.min, r.copy.max, r.copy.median / r.handoff.median);
    }
    std::printf("host -> torch, 4 KiB: fresh view %.3f us (%.3f..%.3f), kept view %.3f us (%.3f..%.3f)\n",
                lend_fresh.median, lend_fresh.min, lend_fresh.max, lend_kept.median, lend_kept.min, lend_kept.max);
    bench::Report report;
    for (const Row &r : rows) {
        report.result(std::string("dlpack.handoff_") + r.name + ".pybridge", r.handoff.median, "us");
        report.result(std::string("dlpack.handoff_") + r.name + ".dunder_dlpack", r.dunder.median, "us");
        report.result(std::string("dlpack.handoff_") + r.name + ".memcpy", r.copy.median, "us");
    }
    report.ratio("dlpack.handoff_1GiB_over_4KiB", rows.back().handoff.median / rows.front().handoff.median, "<=", 1.5);
    report.ratio("dlpack.memcpy_over_handoff_1GiB", rows.back().copy.median / rows.back().handoff.median, ">=", 10000);
    report.ratio("dlpack.c_api_over_dunder_dlpack_4KiB", rows.front().handoff.median / rows.front().dunder.median, "<=",
                 1.0 / 3);
    report.result("dlpack.lend_4KiB.fresh_view", lend_fresh.median, "us");
    report.result("dlpack.lend_4KiB.kept_view", lend_kept.median, "us");
    report.ratio("dlpack.lend_4KiB.kept_over_fresh", lend_kept.median / lend_fresh.median, "<=", 0.5);
    report.print();
    return 0;
}
