// Read-only host memory is never written from Python, whatever path the tensor takes:
// a call argument, a pybridge.DLPackTensor taken by torch (the object, or a versioned or
// legacy capsule of it), by numpy, or through pybridge's C exchange table. torch ignores
// DLPack's READ_ONLY flag, so the flag alone protects nothing: under ReadOnlyPolicy::Copy
// every path gets a copy, under Refuse the export fails naming the policy.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <marshal/dlpack_lend.hpp>

#include "shared_bridge.hpp"

using pyb_test::bridge;
using pyb_test::error_of;
using pyb_test::py_fn;

namespace {

pyb::ObjectRef export_object(const pyb::Tensor &t) {
    return bridge().interpreter().call(
        [&](pyb::Python py) { return pyb::ObjectRef::steal(py, pyb::tensor_to_dlpack_object(py, t)); });
}

class DLPackReadOnly : public ::testing::Test {
protected:
    void SetUp() override {
        bridge().exec("import numpy, torch\n");
        ASSERT_EQ(pyb::read_only_policy(), pyb::ReadOnlyPolicy::Copy);  // the default
    }
    void TearDown() override { pyb::set_read_only_policy(pyb::ReadOnlyPolicy::Copy); }

    std::vector<std::int32_t> data = {7, 8, 9};
    pyb::Tensor read_only() {
        return pyb::Tensor::from_buffer(data.data(), {3}, pyb::dtype_of<std::int32_t>(), {}, {}, pyb::cpu_device(), 0,
                                        /*read_only=*/true);
    }
};

}  // namespace

TEST_F(DLPackReadOnly, EveryPythonPathWritesACopyUnderCopy) {
    const pyb::ObjectRef obj = export_object(read_only());
    // Each consumer writes 100 into what it got and reads it back; the host memory stays.
    const char *paths[] = {
        "torch.from_dlpack(_ro)",
        "torch.from_dlpack(_ro.__dlpack__(max_version=(1, 3)))",
        "torch.from_dlpack(_ro.__dlpack__(max_version=(1, 0), copy=False))",
        "torch.utils.dlpack.from_dlpack(_ro.__dlpack__())",  // a legacy capsule
        "numpy.from_dlpack(_ro)",
    };
    for (const char *path : paths) {
        SCOPED_TRACE(path);
        // A fresh object each time: one object's copy is shared by all its consumers.
        bridge().setattr(bridge().import("__main__"), "_ro", pyb::Value(export_object(read_only())));
        bridge().exec(("_t = " + std::string(path) + "\n").c_str());
        EXPECT_EQ(bridge().eval("[int(v) for v in _t]"), pyb::list({7, 8, 9}));  // the data, copied
        bridge().exec(
            "try:\n"
            "    _t[0] = 100\n"
            "except ValueError:\n"  // numpy honours IS_COPIED/READ_ONLY as it likes; either is fine
            "    pass\n"
            "del _t\n");
        EXPECT_EQ(data, (std::vector<std::int32_t>{7, 8, 9}));
    }
    // The capsule's own flags say it is a copy; its data is not the host memory.
    bridge().setattr(bridge().import("__main__"), "_ro", pyb::Value(obj));
    const pyb::ObjectRef capsule = bridge().eval_ref("_ro.__dlpack__(max_version=(1, 3))");
    const pyb::Tensor back = bridge().interpreter().call(
        [&](pyb::Python py) { return pyb::tensor_from_dlpack(py, capsule.get(py)); });
    EXPECT_TRUE(back.is_copied());
    EXPECT_FALSE(back.read_only());
    EXPECT_NE(back.data(), static_cast<void *>(data.data()));
    // The C exchange table (what a C consumer such as torch's fast path calls).
    bridge().interpreter().call([&](pyb::Python py) {
        const DLPackExchangeAPI *api = pyb::pybridge_exchange_api();
        DLManagedTensorVersioned *m = nullptr;
        ASSERT_EQ(api->managed_tensor_from_py_object_no_sync(obj.get(py), &m), 0);
        EXPECT_NE(m->dl_tensor.data, static_cast<void *>(data.data()));
        EXPECT_TRUE(m->flags & DLPACK_FLAG_BITMASK_IS_COPIED);
        static_cast<std::int32_t *>(m->dl_tensor.data)[0] = 100;  // a consumer writing it
        m->deleter(m);
        DLTensor view{};
        ASSERT_EQ(api->dltensor_from_py_object_no_sync(obj.get(py), &view), 0);
        EXPECT_NE(view.data, static_cast<void *>(data.data()));
    });
    EXPECT_EQ(data, (std::vector<std::int32_t>{7, 8, 9}));
    // A call argument: a copy too (torch tensors cannot be read-only).
    EXPECT_EQ(bridge().call(py_fn("lambda t: (t.fill_(100), t.tolist())[1]"), {read_only()}), pyb::list({100, 100, 100}));
    EXPECT_EQ(data, (std::vector<std::int32_t>{7, 8, 9}));
    bridge().exec("del _ro\n");
}

TEST_F(DLPackReadOnly, ExportIsRefusedUnderRefuseNamingThePolicy) {
    pyb::set_read_only_policy(pyb::ReadOnlyPolicy::Refuse);
    const std::string e = error_of([&] { export_object(read_only()); });
    EXPECT_EQ(e, "pybridge: tensor int32[3] on cpu is read-only and ReadOnlyPolicy::Refuse forbids exporting it: "
                 "DLPack consumers such as torch ignore the READ_ONLY flag and would write into it; pass a writable "
                 "tensor, or set ReadOnlyPolicy::Copy to export a copy");
    const std::string call = error_of([&] { bridge().call(py_fn("lambda t: t"), {read_only()}); });
    EXPECT_NE(call.find("ReadOnlyPolicy::Refuse"), std::string::npos) << call;
    // The exchange table's to_py_object adopts a consumer's READ_ONLY tensor: refused too.
    std::vector<std::int32_t> other = {1, 2};
    const pyb::Tensor ro2 = pyb::Tensor::from_buffer(other.data(), {2}, pyb::dtype_of<std::int32_t>(), {}, {},
                                                     pyb::cpu_device(), 0, true);
    bridge().interpreter().call([&](pyb::Python py) {
        DLManagedTensorVersioned *m = pyb::detail::lend_versioned(ro2, DLPACK_FLAG_BITMASK_READ_ONLY);
        void *out = nullptr;
        EXPECT_EQ(pyb::pybridge_exchange_api()->managed_tensor_to_py_object_no_sync(m, &out), -1);
        EXPECT_TRUE(PyErr_Occurred());
        PyErr_Clear();
        (void)py;
    });
    // Writable tensors are unaffected.
    std::vector<std::int32_t> rw = {1, 2, 3};
    const pyb::ObjectRef obj = export_object(pyb::Tensor::from_buffer(rw.data(), {3}, pyb::dtype_of<std::int32_t>()));
    bridge().call(py_fn("lambda o: torch.from_dlpack(o).add_(1)"), {pyb::Value(obj)});
    EXPECT_EQ(rw, (std::vector<std::int32_t>{2, 3, 4}));
    EXPECT_EQ(data, (std::vector<std::int32_t>{7, 8, 9}));
}
