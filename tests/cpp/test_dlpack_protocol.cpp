// DLPack as consumer of any producer: objects with __dlpack__ (numpy, torch), versioned and
// legacy capsules, each consumed exactly once, and the C exchange API path giving the same
// views as the protocol path.
#include <gtest/gtest.h>

#include "shared_bridge.hpp"

using pyb_test::bridge;

namespace {

std::int64_t address(const void *p) { return static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(p)); }

std::string error_of(const std::function<void()> &f) {
    try {
        f();
    } catch (const std::exception &e) {
        return e.what();
    }
    return "(no error)";
}

pyb::Tensor from_dlpack(const char *expr, const pyb::DLPackRequest &request = {}) {
    const pyb::ObjectRef obj = bridge().eval_ref(expr);
    return bridge().interpreter().call([&](pyb::Python py) {
        return pyb::tensor_from_dlpack(py, obj.get(py), request);
    });
}

class DLPackProtocol : public ::testing::Test {
protected:
    void SetUp() override { bridge().exec("import numpy, torch\n"); }
};

}  // namespace

TEST_F(DLPackProtocol, NumpyArraysArriveThroughDunderDlpackWithoutACopy) {
    bridge().exec("_np = numpy.arange(12, dtype=numpy.int32).reshape(3, 4)[:, 1::2]\n");
    const pyb::Tensor t = from_dlpack("_np");
    EXPECT_EQ(t.shape(), (std::vector<std::int64_t>{3, 2}));
    EXPECT_EQ(t.strides(), (std::vector<std::int64_t>{4, 2}));
    EXPECT_EQ(t.data_as<std::int32_t>()[2 * 4 + 2], 11);  // element [2][1]
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()),
              static_cast<std::uintptr_t>(bridge().eval("_np.ctypes.data").as_int()));
    EXPECT_FALSE(t.is_copied());
    // copy=True: the producer copies, and the view says so.
    const pyb::Tensor copied = from_dlpack("_np", {std::nullopt, true});
    EXPECT_TRUE(copied.is_copied());
    EXPECT_NE(copied.data(), t.data());
    EXPECT_EQ(copied.data_as<std::int32_t>()[copied.strides()[0] * 2 + copied.strides()[1]], 11);
}

TEST_F(DLPackProtocol, VersionedAndLegacyCapsulesAreEachConsumedOnce) {
    bridge().exec(
        "_src = torch.arange(4, dtype=torch.float64)\n"
        "_versioned = _src.__dlpack__(max_version=(1, 0))\n"
        "_legacy = torch.utils.dlpack.to_dlpack(_src)\n");
    for (const char *name : {"_versioned", "_legacy"}) {
        SCOPED_TRACE(name);
        const pyb::Tensor t = from_dlpack(name);
        EXPECT_EQ(t.data_as<double>()[3], 3.0);
        EXPECT_EQ(address(t.data()), bridge().eval("_src.data_ptr()").as_int());
        const std::string used = std::string(name) == "_versioned" ? "used_dltensor_versioned" : "used_dltensor";
        const std::string repr = bridge().eval(("repr(" + std::string(name) + ")").c_str()).as_str();
        EXPECT_NE(repr.find("\"" + used + "\""), std::string::npos) << repr;  // renamed on taking
        EXPECT_EQ(error_of([&] { from_dlpack(name); }),
                  "pybridge: this DLPack capsule was already consumed (\"" + used +
                      "\"); a capsule gives its tensor once");
    }
}

TEST_F(DLPackProtocol, WhatIsNotADLPackProducerIsAClearError) {
    const std::string e = error_of([&] { from_dlpack("[1, 2]"); });
    EXPECT_NE(e.find("TypeError"), std::string::npos) << e;
    EXPECT_NE(e.find("list is not a DLPack producer (no __dlpack__ method)"), std::string::npos) << e;
    bridge().exec("_other = __import__('datetime').datetime_CAPI\n");
    EXPECT_EQ(error_of([&] { from_dlpack("_other"); }),
              "pybridge: expected a DLPack capsule (\"dltensor_versioned\" or \"dltensor\"), got \"datetime.datetime_CAPI\"");
    // A producer's own refusal comes through as its Python error (BufferError here).
    const std::string refused = error_of([&] { from_dlpack("torch.eye(2).to_sparse()"); });
    EXPECT_NE(refused.find("Error"), std::string::npos) << refused;
}

TEST_F(DLPackProtocol, ExchangeApiAndDunderDlpackGiveTheSameView) {
    bridge().exec("_t = torch.arange(10, dtype=torch.float32)[2::3]\n");
    ASSERT_TRUE(pyb::dlpack::exchange_api_enabled());
    const bool torch_offers = bridge().interpreter().call([](pyb::Python py) {
        PyObject *torch_tensor = PyObject_GetAttrString(PyImport_AddModule("torch"), "Tensor");
        const bool r = pyb::dlpack::exchange_api_of(py, reinterpret_cast<PyTypeObject *>(torch_tensor)) != nullptr;
        Py_DECREF(torch_tensor);
        return r;
    });
    EXPECT_TRUE(torch_offers);  // torch 2.14 has __dlpack_c_exchange_api__
    const pyb::Tensor fast = from_dlpack("_t");
    pyb::dlpack::set_exchange_api_enabled(false);
    const pyb::Tensor slow = from_dlpack("_t");
    pyb::dlpack::set_exchange_api_enabled(true);
    EXPECT_EQ(fast.data(), slow.data());
    EXPECT_EQ(fast.shape(), slow.shape());
    EXPECT_EQ(fast.strides(), (std::vector<std::int64_t>{3}));
    EXPECT_EQ(slow.strides(), (std::vector<std::int64_t>{3}));
    EXPECT_EQ(fast.data_as<float>()[3], 5.0f);
    // Types without a table (numpy.ndarray) are looked up once and take __dlpack__.
    const bool numpy_offers = bridge().interpreter().call([](pyb::Python py) {
        PyObject *nd = PyObject_GetAttrString(PyImport_AddModule("numpy"), "ndarray");
        const bool r = pyb::dlpack::exchange_api_of(py, reinterpret_cast<PyTypeObject *>(nd)) != nullptr;
        Py_DECREF(nd);
        return r;
    });
    EXPECT_FALSE(numpy_offers);
}

TEST_F(DLPackProtocol, LazilyNegatedTensorsArriveMaterializedAndFlaggedCopied) {
    // .imag of a conjugated view carries torch's lazy negation bit, which DLPack cannot carry.
    const pyb::Tensor t = bridge().eval("torch.tensor([1+2j, 3-1j]).conj().imag").as_tensor();
    EXPECT_EQ(t.data_as<float>()[0], -2.0f);
    EXPECT_EQ(t.data_as<float>()[1], 1.0f);
    EXPECT_TRUE(t.is_copied());
    EXPECT_FALSE(bridge().eval("torch.ones(2)").as_tensor().is_copied());
}
