// Host memory still lent to Python when stop() runs is given back, each export exactly
// once: torch views kept in Python, pybridge.DLPackTensor objects, unconsumed capsules.
// (Their release callbacks never ran before: with torch loaded CPython is not finalized.)
#include <bridge/pybridge.hpp>

#include <atomic>
#include <string>
#include <vector>

#include "child.hpp"

namespace {

constexpr int kViews = 1000;
std::atomic<int> g_released{0};
std::atomic<int> g_released_twice{0};

struct HostMemory {
    std::vector<std::vector<float>> buffers;
    std::vector<std::atomic<int>> counts;
    explicit HostMemory(int n) : buffers(n, std::vector<float>(16, 1.0f)), counts(n) {}
    pyb::Tensor tensor(int i) {
        return pyb::Tensor::from_buffer(buffers[i].data(), {16}, pyb::dtype_of<float>(), {}, [this, i] {
            if (counts[i].fetch_add(1) != 0) g_released_twice.fetch_add(1);
            g_released.fetch_add(1);
        });
    }
};

pyb::ObjectRef export_object(pyb::Bridge &py, const pyb::Tensor &t) {
    return py.interpreter().call(
        [&](pyb::Python p) { return pyb::ObjectRef::steal(p, pyb::tensor_to_dlpack_object(p, t)); });
}

std::string outstanding_torch_views_are_released_at_stop() {
    static HostMemory memory(kViews);  // outlives the bridge: released callbacks may run late
    pyb::Bridge py;
    py.exec("import torch\n_keep = []\n");
    const pyb::ObjectRef keep = py.eval_ref("_keep.append");
    for (int i = 0; i < kViews; ++i) {
        switch (i % 3) {
            case 0: py.call(keep, {memory.tensor(i)}); break;  // a torch view
            case 1: py.call(keep, {pyb::Value(export_object(py, memory.tensor(i)))}); break;
            default:  // a capsule nobody consumed
                py.call(keep, {py.call_method(export_object(py, memory.tensor(i)), "__dlpack__")});
        }
    }
    if (py.eval("len(_keep)").as_int() != kViews) return "Python did not keep the views";
    if (g_released.load() != 0) return std::to_string(g_released.load()) + " released before stop";
    py.stop();
    if (g_released.load() != kViews)
        return std::to_string(g_released.load()) + " of " + std::to_string(kViews) + " released at stop";
    if (g_released_twice.load() != 0) return std::to_string(g_released_twice.load()) + " released twice";
    return "";
}

// Finalize::Always: finalization frees what it can (each release runs then), stop gives
// back the rest; none twice. numpy consumers, as finalizing with torch loaded is not safe.
std::string finalized_interpreter_releases_each_export_once() {
    static HostMemory memory(kViews);
    pyb::InterpreterConfig config = pyb::config_from_environment();
    config.finalize = pyb::Finalize::Always;
    pyb::Bridge py(config);
    py.exec("import numpy\n_keep = []\nclass _Cycle:\n    pass\n");
    const pyb::ObjectRef keep = py.eval_ref("_keep.append");
    const pyb::ObjectRef from_dlpack = py.eval_ref("numpy.from_dlpack");
    for (int i = 0; i < kViews; ++i) {
        const pyb::Value obj(export_object(py, memory.tensor(i)));
        py.call(keep, {i % 2 ? obj : py.call(from_dlpack, {obj})});
    }
    py.stop();
    if (g_released.load() != kViews)
        return std::to_string(g_released.load()) + " of " + std::to_string(kViews) + " released at stop";
    if (g_released_twice.load() != 0) return std::to_string(g_released_twice.load()) + " released twice";
    return "";
}

}  // namespace

TEST(StopWithExports, AThousandOutstandingViewsAreReleasedExactlyOnce) {
    PYB_IN_OWN_PROCESS(outstanding_torch_views_are_released_at_stop);
}

TEST(StopWithExports, FinalizationAndStopReleaseEachExportOnce) {
    PYB_IN_OWN_PROCESS(finalized_interpreter_releases_each_export_once);
}
