// DLPack as consumer of any producer: objects with __dlpack__ (numpy, torch), versioned and
// legacy capsules, each consumed exactly once, and the C exchange API path giving the same
// views as the protocol path.
#include <gtest/gtest.h>

#include "shared_bridge.hpp"

using pyb_test::bridge;
using pyb_test::address;
using pyb_test::error_of;

namespace {

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
    // The same through tensor_from_dlpack (torch's exchange table exports the storage unflagged).
    const pyb::Tensor conj = from_dlpack("torch.tensor([1+2j], dtype=torch.complex64).conj()");
    EXPECT_EQ(static_cast<const float *>(conj.data())[1], -2.0f);
    EXPECT_TRUE(conj.is_copied());
}

namespace {
// A pybridge.DLPackTensor over `t`, as a Python object handle.
pyb::ObjectRef dlpack_object(const pyb::Tensor &t) {
    return bridge().interpreter().call(
        [&](pyb::Python py) { return pyb::ObjectRef::steal(py, pyb::tensor_to_dlpack_object(py, t)); });
}
}  // namespace

TEST_F(DLPackProtocol, PybridgeTensorsServeTheDunderDlpackProtocol) {
    std::vector<float> data = {1, 2, 3, 4, 5, 6};
    const pyb::Tensor host = pyb::Tensor::from_buffer(data.data(), {2, 3}, pyb::dtype_of<float>());
    const pyb::ObjectRef obj = dlpack_object(host);
    EXPECT_EQ(bridge().repr(obj), "pybridge.DLPackTensor(float32[2, 3] on cpu)");
    EXPECT_EQ(bridge().call_method(obj, "__dlpack_device__"), pyb::tuple({1, 0}));  // (kDLCPU, 0)
    // numpy and torch take it without a copy (torch through pybridge's exchange table or
    // __dlpack__; numpy through __dlpack__ with max_version).
    bridge().exec("def _consume(o):\n    return (numpy.from_dlpack(o).ctypes.data, torch.from_dlpack(o).data_ptr())\n");
    const pyb::Value ptrs = bridge().call(bridge().eval("_consume").as_object(), {pyb::Value(obj)});
    EXPECT_EQ(ptrs, pyb::tuple({address(data.data()), address(data.data())}));
    // Capsule kinds by max_version; each capsule's tensor keeps the host tensor alive.
    bridge().setattr(bridge().import("__main__"), "_obj", pyb::Value(obj));
    EXPECT_NE(bridge().eval("repr(_obj.__dlpack__())").as_str().find("\"dltensor\""), std::string::npos);
    EXPECT_NE(bridge().eval("repr(_obj.__dlpack__(max_version=(1, 3)))").as_str().find("\"dltensor_versioned\""),
              std::string::npos);
    // Back to the host through pybridge's own exchange table: the same memory.
    const pyb::Tensor back = bridge().interpreter().call(
        [&](pyb::Python py) { return pyb::tensor_from_dlpack(py, obj.get(py)); });
    EXPECT_EQ(back.data(), static_cast<void *>(data.data()));
    EXPECT_EQ(back.shape(), host.shape());
    bridge().exec("del _obj\n");  // the host memory goes with this test
}

TEST_F(DLPackProtocol, DunderDlpackKeywordsFollowTheArrayApi) {
    std::vector<std::int32_t> data = {7, 8, 9};
    const pyb::Tensor ro = pyb::Tensor::from_buffer(data.data(), {3}, pyb::dtype_of<std::int32_t>(), {}, {},
                                                    pyb::cpu_device(), 0, /*read_only=*/true);
    bridge().setattr(bridge().import("__main__"), "_ro", pyb::Value(dlpack_object(ro)));
    bridge().exec(
        "def _err(f):\n"
        "    try:\n"
        "        f()\n"
        "    except Exception as e:\n"
        "        return type(e).__name__ + ': ' + str(e)\n"
        "    return 'no error'\n");
    auto err = [](const char *lambda_body) {
        return bridge().eval(("_err(lambda: " + std::string(lambda_body) + ")").c_str()).as_str();
    };
    EXPECT_EQ(err("_ro.__dlpack__(dl_device=(2, 0))"),
              "BufferError: pybridge: tensor is on cpu; it cannot be exported to device (2, 0)");
    EXPECT_EQ(err("_ro.__dlpack__(stream=5)"), "ValueError: pybridge: stream 5 is not valid for a tensor on cpu: this device has no streams pybridge can synchronise (use None or -1)");
    EXPECT_EQ(err("_ro.__dlpack__(stream=-1, max_version=(1, 0))"), "no error");
    // The object holds a copy of the read-only tensor (test_dlpack_read_only.cpp): its
    // capsules say IS_COPIED, and copy=True copies again.
    const pyb::Tensor viewed = from_dlpack("_ro.__dlpack__(max_version=(1, 0))");  // a bare capsule
    EXPECT_TRUE(viewed.is_copied());
    EXPECT_NE(viewed.data(), static_cast<void *>(data.data()));
    const pyb::Tensor copied = from_dlpack("_ro.__dlpack__(max_version=(1, 0), copy=True)");
    EXPECT_TRUE(copied.is_copied());
    EXPECT_NE(copied.data(), viewed.data());
    EXPECT_EQ(copied.data_as<std::int32_t>()[2], 9);
    EXPECT_EQ(bridge().eval("(lambda t: (t.add_(1), t.tolist())[1])(torch.utils.dlpack.from_dlpack(_ro.__dlpack__()))"),
              pyb::list({8, 9, 10}));
    EXPECT_EQ(data, (std::vector<std::int32_t>{7, 8, 9}));
    bridge().exec("del _ro\n");
}
