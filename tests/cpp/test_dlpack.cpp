// DLPack hand-off: host buffers become torch tensors and torch tensors become host views,
// both without a copy (same data pointer), with shape, strides and dtype kept, and with
// every release happening exactly once, with the GIL where Python is involved.
#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <thread>
#include <vector>

#include "shared_bridge.hpp"

using pyb_test::bridge;
using pyb_test::address;
using pyb_test::py_fn;

namespace {

// Each test may run alone (--gtest_filter): torch is imported by the fixture, not by
// whichever test happened to run first.
class DLPack : public ::testing::Test {
protected:
    void SetUp() override { bridge().exec("import torch\n"); }
};

}  // namespace

TEST_F(DLPack, HostBufferBecomesATorchTensorWithoutACopy) {
    auto data = std::make_shared<std::vector<float>>(12);
    std::iota(data->begin(), data->end(), 0.0f);
    std::atomic<int> released{0};
    {
        pyb::Tensor t = pyb::Tensor::from_buffer(data->data(), {3, 4}, pyb::dtype_of<float>(), {},
                                                 [&released, data] { ++released; });
        const pyb::Value info = bridge().call(
            py_fn("lambda t: (type(t).__name__, t.data_ptr(), tuple(t.shape), t.stride(), str(t.dtype), t.sum().item())"),
            {t});
        EXPECT_EQ(info, pyb::tuple({"Tensor", address(data->data()), pyb::tuple({3, 4}), pyb::tuple({4, 1}),
                                    "torch.float32", 66.0}));
        // Python writes are host-visible: the memory is shared.
        bridge().call(py_fn("lambda t: t.mul_(2)"), {t});
        EXPECT_EQ((*data)[11], 22.0f);
        EXPECT_EQ(released.load(), 0);  // the host handle still lives
    }
    bridge().exec("import gc\ngc.collect()\n");
    EXPECT_EQ(released.load(), 1);
}

TEST_F(DLPack, ReleaseRunsOnceAfterBothHostAndPythonDropIt) {
    std::vector<std::int32_t> data{1, 2, 3};
    std::atomic<int> released{0};
    pyb::Tensor t = pyb::Tensor::from_buffer(data.data(), {3}, pyb::dtype_of<std::int32_t>(), {},
                                             [&released] { ++released; });
    bridge().exec("_kept = []\n");
    bridge().call(py_fn("_kept.append"), {t});
    t = pyb::Tensor();  // host drops first: Python still has it
    EXPECT_EQ(released.load(), 0);
    EXPECT_EQ(bridge().eval("_kept[0].tolist()"), pyb::list({1, 2, 3}));
    bridge().exec("_kept.clear()\n");
    EXPECT_EQ(released.load(), 1);
}

TEST_F(DLPack, StridesAndByteOffsetReachTorch) {
    std::vector<double> data(20);
    std::iota(data.begin(), data.end(), 0.0);
    // A 2x3 view starting at element 2, column-major-ish strides (1, 4) in elements.
    pyb::Tensor t = pyb::Tensor::from_buffer(data.data(), {2, 3}, pyb::dtype_of<double>(), {1, 4}, {},
                                             pyb::cpu_device(), 2 * sizeof(double));
    const pyb::Value r = bridge().call(py_fn("lambda t: (t.data_ptr(), t.stride(), t.tolist())"), {t});
    EXPECT_EQ(r, pyb::tuple({address(data.data() + 2), pyb::tuple({1, 4}),
                             pyb::list({pyb::list({2.0, 6.0, 10.0}), pyb::list({3.0, 7.0, 11.0})})}));
}

TEST_F(DLPack, ZeroDimAndEmptyTensorsCross) {
    float scalar = 2.5f;
    const pyb::Value r = bridge().call(py_fn("lambda t: (t.dim(), t.item())"),
                                       {pyb::Tensor::from_buffer(&scalar, {}, pyb::dtype_of<float>())});
    EXPECT_EQ(r, pyb::tuple({0, 2.5}));
    const pyb::Value e = bridge().call(py_fn("lambda t: tuple(t.shape)"),
                                       {pyb::Tensor::from_buffer(nullptr, {0, 5}, pyb::dtype_of<float>())});
    EXPECT_EQ(e, pyb::tuple({0, 5}));
}

TEST_F(DLPack, TorchTensorBecomesAHostViewWithoutACopy) {
    bridge().exec("import torch\n_src = torch.arange(12, dtype=torch.float32).reshape(3, 4)\n");
    const pyb::Tensor t = bridge().eval("_src").as_tensor();
    EXPECT_EQ(address(t.data()), bridge().eval("_src.data_ptr()").as_int());
    EXPECT_EQ(t.shape(), (std::vector<std::int64_t>{3, 4}));
    EXPECT_EQ(t.strides(), (std::vector<std::int64_t>{4, 1}));
    EXPECT_EQ(t.dtype(), pyb::dtype_of<float>());
    EXPECT_EQ(t.device().device_type, kDLCPU);
    EXPECT_EQ(t.data_as<float>()[7], 7.0f);
    bridge().exec("_src[1, 3] = -1\n");  // shared memory: the host sees Python's write
    EXPECT_EQ(t.data_as<float>()[7], -1.0f);
    EXPECT_THROW(t.data_as<double>(), pyb::Error);
}

TEST_F(DLPack, NonContiguousTorchTensorsKeepTheirStrides) {
    const pyb::Tensor tt = bridge().eval("torch.arange(6, dtype=torch.int64).reshape(2, 3).t()").as_tensor();
    EXPECT_EQ(tt.shape(), (std::vector<std::int64_t>{3, 2}));
    EXPECT_EQ(tt.strides(), (std::vector<std::int64_t>{1, 3}));
    EXPECT_FALSE(tt.is_contiguous());
    EXPECT_EQ(tt.data_as<std::int64_t>()[1 * 1 + 1 * 3], 4);  // element [1][1] of the transpose
    const pyb::Tensor stepped = bridge().eval("torch.arange(10, dtype=torch.int16)[1::3]").as_tensor();
    EXPECT_EQ(stepped.strides(), (std::vector<std::int64_t>{3}));
    EXPECT_EQ(stepped.data_as<std::int16_t>()[3], 4);
    // And back: the same view reaches torch with the same strides and values.
    EXPECT_EQ(bridge().call(py_fn("lambda t: (t.stride(), t.tolist())"), {tt}),
              pyb::tuple({pyb::tuple({1, 3}), pyb::list({pyb::list({0, 3}), pyb::list({1, 4}), pyb::list({2, 5})})}));
}

TEST_F(DLPack, DtypesSurviveTheRoundTrip) {
    const char *dtypes[] = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                            "bfloat16", "float32", "float64", "complex64", "complex128"};
    bridge().exec("def _make(name):\n    return torch.ones(3, dtype=getattr(torch, name))\n");
    for (const char *name : dtypes) {
        SCOPED_TRACE(name);
        const pyb::Value back = bridge().call(py_fn("lambda t: str(t.dtype).replace('torch.', '')"),
                                              {bridge().call(py_fn("_make"), {name})});
        EXPECT_EQ(back.as_str(), name);
    }
    EXPECT_EQ(pyb::dtype_name(bridge().call(py_fn("_make"), {"bfloat16"}).as_tensor().dtype()), "bfloat16");
}

TEST_F(DLPack, RequiresGradTensorsCrossAsDetachedViews) {
    const pyb::Value v = bridge().eval("torch.ones(4, requires_grad=True) * 3");
    EXPECT_EQ(v.as_tensor().data_as<float>()[3], 3.0f);
}

TEST_F(DLPack, ViewReleasedOnAHostThreadIsFreedOnTheInterpreterThreadWithTheGil) {
    // A torch tensor whose storage keeps a numpy array alive: its deleter decrefs that
    // array, which needs the GIL. The weakref callback records the thread that freed it.
    bridge().exec(
        "import numpy, threading, torch, weakref\n"
        "_freed_on = []\n"
        "def _numpy_backed():\n"
        "    a = numpy.arange(5, dtype=numpy.float64)\n"
        "    global _array_ref\n"
        "    _array_ref = weakref.ref(a, lambda _: _freed_on.append(threading.get_ident()))\n"
        "    return torch.from_numpy(a)\n");
    pyb::Tensor view = bridge().eval("_numpy_backed()").as_tensor();
    EXPECT_EQ(view.data_as<double>()[4], 4.0);
    EXPECT_FALSE(bridge().eval("_array_ref() is None").as_bool());  // the host view keeps it
    std::thread([v = std::move(view)]() mutable { v = pyb::Tensor(); }).join();
    EXPECT_TRUE(bridge().eval("_array_ref() is None").as_bool());
    EXPECT_TRUE(bridge().eval("_freed_on == [threading.get_ident()]").as_bool());
}

TEST_F(DLPack, BadHostDescriptorsAreRefused) {
    float x = 0;
    EXPECT_THROW(pyb::Tensor::from_buffer(&x, {-1}, pyb::dtype_of<float>()), pyb::Error);
    EXPECT_THROW(pyb::Tensor::from_buffer(&x, {1, 1}, pyb::dtype_of<float>(), {1}), pyb::Error);
    EXPECT_THROW(pyb::Tensor::from_buffer(nullptr, {2}, pyb::dtype_of<float>()), pyb::Error);
    EXPECT_THROW(pyb::Tensor::from_buffer(&x, {1}, DLDataType{kDLFloat, 32, 4}), pyb::Error);
}

TEST_F(DLPack, ConjugatedAndNegatedViewsArriveMaterialized) {
    const pyb::Tensor c = bridge().eval("torch.tensor([1+2j, 3-4j], dtype=torch.complex64).conj()").as_tensor();
    const auto *z = static_cast<const float *>(c.data());
    EXPECT_EQ(z[1], -2.0f);  // imaginary part of conj(1+2j)
    EXPECT_EQ(z[3], 4.0f);
}

TEST_F(DLPack, TensorsDlpackCannotDescribeStayPythonObjects) {
    EXPECT_EQ(bridge().eval("torch.empty(3, device='meta')").kind(), pyb::Value::Kind::Object);
    EXPECT_EQ(bridge().eval("torch.eye(3).to_sparse()").kind(), pyb::Value::Kind::Object);
    EXPECT_EQ(bridge().eval("__import__('numpy').datetime64('2026-11-29')").kind(), pyb::Value::Kind::Object);
}
