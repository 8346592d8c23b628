// DLPack dtypes and layouts, host -> torch -> host: every dtype keeps its values (checked
// in torch and back on the host), every layout keeps shape, strides and values, and what
// torch cannot view safely is refused with an Error that says why.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "shared_bridge.hpp"

using pyb_test::bridge;
using pyb_test::error_of;
using pyb_test::py_fn;

namespace {

class DLPackLayouts : public ::testing::Test {
protected:
    void SetUp() override {
        bridge().exec("import torch\n");
        pyb::dlpack::set_exchange_api_enabled(use_exchange_api());
    }
    void TearDown() override { pyb::dlpack::set_exchange_api_enabled(true); }
    virtual bool use_exchange_api() const { return true; }
};

struct DtypeCase {
    const char *torch_name;
    DLDataType dtype;
};

// Element i of the test pattern: bytes (i * 37 + 11) & 0x3f (small and positive in every
// dtype, a valid bit pattern for every float format; bools take 0/1).
std::vector<std::uint8_t> pattern(const DtypeCase &c, int n) {
    const int width = c.dtype.bits / 8;
    std::vector<std::uint8_t> bytes(static_cast<size_t>(n * width));
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>((i * 37 + 11) & 0x3f);
    if (c.dtype.code == kDLBool)
        for (auto &b : bytes) b &= 1;
    return bytes;
}

}  // namespace

TEST_F(DLPackLayouts, EveryDtypeKeepsItsBitsBothWays) {
    const DtypeCase cases[] = {
        {"bool", {kDLBool, 8, 1}},         {"uint8", {kDLUInt, 8, 1}},       {"int8", {kDLInt, 8, 1}},
        {"uint16", {kDLUInt, 16, 1}},      {"int16", {kDLInt, 16, 1}},       {"uint32", {kDLUInt, 32, 1}},
        {"int32", {kDLInt, 32, 1}},        {"uint64", {kDLUInt, 64, 1}},     {"int64", {kDLInt, 64, 1}},
        {"float16", {kDLFloat, 16, 1}},    {"bfloat16", {kDLBfloat, 16, 1}}, {"float32", {kDLFloat, 32, 1}},
        {"float64", {kDLFloat, 64, 1}},    {"complex64", {kDLComplex, 64, 1}},
        {"complex128", {kDLComplex, 128, 1}}, {"float8_e4m3fn", {kDLFloat8_e4m3fn, 8, 1}},
        {"float8_e5m2", {kDLFloat8_e5m2, 8, 1}}, {"float8_e4m3fnuz", {kDLFloat8_e4m3fnuz, 8, 1}},
        {"float8_e5m2fnuz", {kDLFloat8_e5m2fnuz, 8, 1}}, {"float8_e8m0fnu", {kDLFloat8_e8m0fnu, 8, 1}},
    };
    // The bytes torch sees, read through a uint8 view of its tensor.
    bridge().exec(
        "def _bytes(t):\n"
        "    return (str(t.dtype).replace('torch.', ''), bytes(t.contiguous().view(-1).view(torch.uint8).tolist()))\n");
    for (const DtypeCase &c : cases) {
        SCOPED_TRACE(c.torch_name);
        std::vector<std::uint8_t> bytes = pattern(c, 6);
        const pyb::Tensor host = pyb::Tensor::from_buffer(bytes.data(), {2, 3}, c.dtype);
        const pyb::Value seen = bridge().call(py_fn("_bytes"), {host});
        EXPECT_EQ(seen, pyb::tuple({c.torch_name, pyb::Bytes{std::string(bytes.begin(), bytes.end())}}));
        // Back: torch's own tensor of that dtype arrives with the same dtype and bits.
        const pyb::Tensor back = bridge().call(py_fn("lambda t: t.clone()"), {host}).as_tensor();
        EXPECT_EQ(pyb::dtype_name(back.dtype()), pyb::dtype_name(c.dtype));
        EXPECT_NE(back.data(), static_cast<void *>(bytes.data()));
        EXPECT_EQ(std::memcmp(back.data(), bytes.data(), bytes.size()), 0);
    }
}

TEST_F(DLPackLayouts, DtypesTorchLacksAndUnknownCodesAreRefused) {
    std::uint8_t b[4] = {};
    const pyb::Tensor e3m4 = pyb::Tensor::from_buffer(b, {4}, DLDataType{kDLFloat8_e3m4, 8, 1});
    EXPECT_EQ(error_of([&] { bridge().call(py_fn("lambda t: t"), {e3m4}); }),
              "pybridge: torch has no dtype for tensor float8_e3m4[4] on cpu");
    EXPECT_EQ(error_of([&] { pyb::Tensor::from_buffer(b, {4}, DLDataType{200, 8, 1}); }),
              "pybridge: tensor dtype dtype(code=200, bits=8, lanes=1) has a type code DLPack does not define");
    EXPECT_EQ(error_of([&] { pyb::Tensor::from_buffer(b, {1}, DLDataType{kDLFloat, 32, 4}); }),
              "pybridge: tensor dtype dtype(code=2, bits=32, lanes=4) has lanes != 1");
    EXPECT_EQ(error_of([&] { pyb::Tensor::from_buffer(b, {8}, DLDataType{kDLFloat4_e2m1fn, 4, 1}); }),
              "pybridge: tensor dtype float4_e2m1fn is not a whole number of bytes");
}

// A layout whose element count or byte extent overflows int64 is refused where it is made,
// not as a wrong numel() (it read 0 and -2) or torch's message at the hand-off.
TEST_F(DLPackLayouts, LayoutsThatOverflowInt64AreRefused) {
    float b[1] = {};
    const auto f32 = pyb::dtype_of<float>();
    EXPECT_EQ(error_of([&] { pyb::Tensor::from_buffer(b, {std::int64_t{1} << 62, 4}, f32); }),
              "pybridge: tensor layout refused: its element count overflows int64");
    EXPECT_EQ(error_of([&] { pyb::Tensor::from_buffer(b, {INT64_MAX, 2}, f32); }),
              "pybridge: tensor layout refused: its element count overflows int64");
    EXPECT_EQ(error_of([&] { pyb::Tensor::from_buffer(b, {std::int64_t{1} << 62}, f32); }),
              "pybridge: tensor layout refused: its byte extent overflows int64");
    EXPECT_EQ(error_of([&] { pyb::Tensor::from_buffer(b, {3, 2}, f32, {INT64_MAX / 2 + 1, 1}); }),
              "pybridge: tensor layout refused: its strides reach past int64 elements");
    EXPECT_EQ(error_of([&] { pyb::Tensor::from_buffer(b, {1}, f32, {}, {}, pyb::cpu_device(), std::uint64_t{1} << 63); }),
              "pybridge: tensor layout refused: its byte extent overflows int64");
    // At the limits, and empty: accepted (a zero extent addresses nothing).
    const pyb::Tensor broadcast = pyb::Tensor::from_buffer(b, {std::int64_t{1} << 31, std::int64_t{1} << 31}, f32, {0, 0});
    EXPECT_EQ(broadcast.numel(), std::int64_t{1} << 62);
    EXPECT_EQ(pyb::Tensor::from_buffer(b, {INT64_MAX, 2, 0}, f32).numel(), 0);
}

TEST_F(DLPackLayouts, StridedLayoutsKeepShapeStridesAndValues) {
    std::vector<float> data(24);
    std::iota(data.begin(), data.end(), 0.0f);
    // Strides of size-1 dimensions are arbitrary (DLPack allows any; torch may normalize them).
    bridge().exec(
        "def _layout(t):\n"
        "    return (list(t.shape), [s for s, n in zip(t.stride(), t.shape) if n > 1], t.tolist())\n");
    struct Case {
        const char *name;
        std::vector<std::int64_t> shape, strides;
        std::uint64_t byte_offset;
        pyb::Value expect;
    };
    const Case cases[] = {
        {"transposed", {3, 2}, {1, 3}, 0,
         pyb::tuple({pyb::list({3, 2}), pyb::list({1, 3}),
                     pyb::list({pyb::list({0.0, 3.0}), pyb::list({1.0, 4.0}), pyb::list({2.0, 5.0})})})},
        {"step 5", {4}, {5}, 0, pyb::tuple({pyb::list({4}), pyb::list({5}), pyb::list({0.0, 5.0, 10.0, 15.0})})},
        {"broadcast (stride 0)", {2, 3}, {0, 1}, 0,
         pyb::tuple({pyb::list({2, 3}), pyb::list({0, 1}),
                     pyb::list({pyb::list({0.0, 1.0, 2.0}), pyb::list({0.0, 1.0, 2.0})})})},
        {"size-1 dims, odd strides", {1, 3, 1}, {1000, 2, -7}, 0,
         pyb::tuple({pyb::list({1, 3, 1}), pyb::list({2}), pyb::list({pyb::list({pyb::list({0.0}),
                     pyb::list({2.0}), pyb::list({4.0})})})})},
        {"byte_offset 8", {2}, {}, 8, pyb::tuple({pyb::list({2}), pyb::list({1}), pyb::list({2.0, 3.0})})},
        {"single element, stride 9", {1}, {9}, 0, pyb::tuple({pyb::list({1}), pyb::list({}), pyb::list({0.0})})},
        {"strides absent (compact)", {2, 2}, {}, 0,
         pyb::tuple({pyb::list({2, 2}), pyb::list({2, 1}), pyb::list({pyb::list({0.0, 1.0}), pyb::list({2.0, 3.0})})})},
        {"0-d", {}, {}, 4, pyb::tuple({pyb::list({}), pyb::list({}), 1.0})},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.name);
        const pyb::Tensor t =
            pyb::Tensor::from_buffer(data.data(), c.shape, pyb::dtype_of<float>(), c.strides, {}, pyb::cpu_device(), c.byte_offset);
        EXPECT_EQ(bridge().call(py_fn("_layout"), {t}), c.expect);
        // Round trip: the host view torch hands back has the same element address and layout.
        const pyb::Tensor back = bridge().call(py_fn("lambda t: t"), {t}).as_tensor();
        EXPECT_EQ(back.data(), t.data());
        EXPECT_EQ(back.shape(), t.shape());
        for (size_t d = 0; d < t.shape().size(); ++d) {
            if (t.shape()[d] > 1) {
                EXPECT_EQ(back.strides()[d], t.strides()[d]) << "dimension " << d;
            }
        }
    }
}

TEST_F(DLPackLayouts, EmptyTensorsMayHaveANullDataPointer) {
    const pyb::Tensor empty = pyb::Tensor::from_buffer(nullptr, {0, 5}, pyb::dtype_of<double>());
    EXPECT_EQ(bridge().call(py_fn("lambda t: (list(t.shape), t.numel(), str(t.dtype))"), {empty}),
              pyb::tuple({pyb::list({0, 5}), 0, "torch.float64"}));
    const pyb::Tensor back = bridge().eval("torch.empty(3, 0, dtype=torch.int32)").as_tensor();
    EXPECT_EQ(back.shape(), (std::vector<std::int64_t>{3, 0}));
    EXPECT_EQ(back.numel(), 0);
}

TEST_F(DLPackLayouts, NegativeStridesAndMisalignedDataAreRefusedWithTheReason) {
    std::vector<double> data(8, 1.0);
    const pyb::Tensor reversed =
        pyb::Tensor::from_buffer(data.data() + 7, {8}, pyb::dtype_of<double>(), {-1});
    EXPECT_EQ(reversed.data_as<double>()[-7], 1.0);  // the host view itself is fine
    EXPECT_EQ(error_of([&] { bridge().call(py_fn("lambda t: t"), {reversed}); }),
              "pybridge: tensor float64[8] on cpu has a negative stride (-1 in dimension 0); torch cannot view "
              "negative strides: flip or copy it on the host first");
    const pyb::Tensor misaligned = pyb::Tensor::from_buffer(data.data(), {2}, pyb::dtype_of<double>(), {}, {},
                                                            pyb::cpu_device(), /*byte_offset=*/3);
    const std::string e = error_of([&] { bridge().call(py_fn("lambda t: t"), {misaligned}); });
    EXPECT_NE(e.find("is not aligned to its 8-byte elements"), std::string::npos) << e;
    EXPECT_EQ(bridge().eval("1 + 1").as_int(), 2);  // still usable
}

TEST_F(DLPackLayouts, ReadOnlyHostTensorsAreNeverWrittenByTorch) {
    std::vector<float> data(4, 1.0f);
    const pyb::Tensor ro = pyb::Tensor::from_buffer(data.data(), {4}, pyb::dtype_of<float>(), {}, {},
                                                    pyb::cpu_device(), 0, /*read_only=*/true);
    ASSERT_EQ(pyb::read_only_policy(), pyb::ReadOnlyPolicy::Copy);  // the default
    // Copy: Python gets its own copy; writing it leaves the host memory alone.
    EXPECT_EQ(bridge().call(py_fn("lambda t: (t.add_(1), t.tolist())[1]"), {ro}), pyb::list({2.0, 2.0, 2.0, 2.0}));
    EXPECT_EQ(data, std::vector<float>(4, 1.0f));
    // Refuse: a clear error instead.
    pyb::set_read_only_policy(pyb::ReadOnlyPolicy::Refuse);
    const std::string e = error_of([&] { bridge().call(py_fn("lambda t: t"), {ro}); });
    pyb::set_read_only_policy(pyb::ReadOnlyPolicy::Copy);
    EXPECT_NE(e.find("float32[4] on cpu is read-only"), std::string::npos) << e;
    // A writable tensor is shared, as always.
    const pyb::Tensor rw = pyb::Tensor::from_buffer(data.data(), {4}, pyb::dtype_of<float>());
    bridge().call(py_fn("lambda t: t.add_(1)"), {rw});
    EXPECT_EQ(data, std::vector<float>(4, 2.0f));
}

// The same cases through the capsule path (torch's C exchange table turned off).
class DLPackLayoutsViaCapsules : public DLPackLayouts {
    bool use_exchange_api() const override { return false; }
};
TEST_F(DLPackLayoutsViaCapsules, StridedLayoutsMatchTheExchangeApiPath) {
    std::vector<std::int64_t> data(12);
    std::iota(data.begin(), data.end(), 0);
    const pyb::Tensor t = pyb::Tensor::from_buffer(data.data(), {3, 2}, pyb::dtype_of<std::int64_t>(), {1, 3});
    EXPECT_EQ(bridge().call(py_fn("lambda t: (t.stride(), t.tolist())"), {t}),
              pyb::tuple({pyb::tuple({1, 3}), pyb::list({pyb::list({0, 3}), pyb::list({1, 4}), pyb::list({2, 5})})}));
    const pyb::Tensor back = bridge().eval("torch.arange(6).reshape(2, 3).t()").as_tensor();
    EXPECT_EQ(back.strides(), (std::vector<std::int64_t>{1, 3}));
    EXPECT_EQ(back.data_as<std::int64_t>()[1 + 3], 4);
    const pyb::Tensor c = bridge().eval("torch.tensor([1+2j], dtype=torch.complex64).conj()").as_tensor();
    EXPECT_EQ(static_cast<const float *>(c.data())[1], -2.0f);
    EXPECT_TRUE(c.is_copied());
}
