// Malformed DLPack descriptors from Python producers (capsules of both kinds, __dlpack__
// objects): every field a producer controls is checked before it is read, the error names
// the field and its value, and the producer's deleter runs exactly once.
// The producers are ctypes structures (tests/support/dlpack_producers.py).
#include <gtest/gtest.h>

#include <string>

#include "shared_bridge.hpp"

using pyb_test::bridge;
using pyb_test::error_of;

namespace {

class DLPackMalformed : public ::testing::Test {
protected:
    void SetUp() override {
        bridge().exec("import sys\nif " PYBRIDGE_TEST_SUPPORT_PY " not in sys.path: sys.path.insert(0, " PYBRIDGE_TEST_SUPPORT_PY ")\n"
                      "import dlpack_producers as _dp\n");
    }

    // Makes a capsule with `fields` (Python keyword arguments of _dp.make), hands it to
    // tensor_from_dlpack, and returns the error; `id` is the producer's id.
    std::string consume_capsule(const std::string &fields, std::int64_t &id) {
        bridge().exec(("_id, _cap = _dp.make(" + fields + ")\n").c_str());
        id = bridge().eval("_id").as_int();
        const pyb::ObjectRef capsule = bridge().eval_ref("_cap");
        return error_of([&] {
            bridge().interpreter().call([&](pyb::Python py) { (void)pyb::tensor_from_dlpack(py, capsule.get(py)); });
        });
    }
    std::int64_t deleter_calls(std::int64_t id) {
        return bridge().eval(("_dp.deleter_calls(" + std::to_string(id) + ")").c_str()).as_int();
    }
};

struct Case {
    const char *fields;    // keyword arguments of dlpack_producers.make
    const char *expected;  // what the error says after "malformed DLPack tensor from its producer: "
};

const Case kCases[] = {
    {"ndim=-1, shape=()", "ndim=-1 (must be 0 to 64)"},
    {"ndim=-2147483648, shape=()", "ndim=-2147483648 (must be 0 to 64)"},
    {"ndim=65, shape=(1,) * 65", "ndim=65 (must be 0 to 64)"},
    {"ndim=1000000, shape=(4,)", "ndim=1000000 (must be 0 to 64)"},
    {"code=200", "dtype.code=200 (not a DLPack data type)"},
    {"code=3, bits=64", "dtype.code=3 (not a DLPack data type)"},  // kDLOpaqueHandle
    {"lanes=4", "dtype.lanes=4 (only 1 is supported)"},
    {"lanes=0", "dtype.lanes=0 (only 1 is supported)"},
    {"bits=0", "dtype.bits=0 (not a whole number of bytes)"},
    {"bits=12", "dtype.bits=12 (not a whole number of bytes)"},
    {"ndim=2, shape=(2, -3)", "shape[1]=-3 (negative extent)"},
    {"ndim=1, shape=(-9223372036854775808,)", "shape[0]=-9223372036854775808 (negative extent)"},
    {"ndim=2, shape=(2, 2), null_shape=True", "shape=NULL with ndim=2"},
    {"ndim=2, shape=(2, 3), data=None", "data=NULL for a tensor with elements"},
    {"device_type=99", "device.device_type=99 (not a DLPack device)"},
    {"device_type=1, device_id=-1", "device.device_id=-1"},
    {"ndim=2, shape=(4611686018427387904, 4)", "layout: its element count overflows int64"},
    {"ndim=1, shape=(4,), strides=(4611686018427387904,)", "layout: its strides reach past int64 elements"},
    {"byte_offset=18446744073709551615", "layout: its byte extent overflows int64"},
    // Found by tests/fuzz/dlpack_fuzzer: empty, but its compact strides overflowed (UB).
    {"ndim=3, shape=(0, 3, 4611686018427387904)", "layout: its compact strides overflow int64"},
};

}  // namespace

TEST_F(DLPackMalformed, EveryBadFieldIsRefusedByNameAndTheDeleterRunsOnce) {
    for (const bool versioned : {true, false}) {
        for (const Case &c : kCases) {
            const std::string fields = std::string(c.fields) + (versioned ? "" : ", versioned=False");
            SCOPED_TRACE(fields);
            std::int64_t id = -1;
            EXPECT_EQ(consume_capsule(fields, id),
                      std::string("pybridge: refused a malformed DLPack tensor from its producer: ") + c.expected);
            EXPECT_EQ(deleter_calls(id), 1);
        }
    }
    EXPECT_EQ(bridge().eval("_dp.unknown_deleter_calls()").as_int(), 0);
}

TEST_F(DLPackMalformed, WellFormedEdgesAreAccepted) {
    // The edges of what is allowed: 0-d, empty with a NULL data pointer, rank 64, NULL
    // strides (compact), zero strides, a byte_offset, legacy capsules.
    const char *ok[] = {
        "ndim=0, shape=()",
        "ndim=2, shape=(0, 5), data=None",
        "ndim=64, shape=(1,) * 64",
        "ndim=2, shape=(2, 2), strides=(0, 1)",
        "ndim=1, shape=(2,), byte_offset=8",
        "ndim=1, shape=(3,), versioned=False",
    };
    for (const char *fields : ok) {
        SCOPED_TRACE(fields);
        bridge().exec(("_id, _cap = _dp.make(" + std::string(fields) + ")\n").c_str());
        const std::int64_t id = bridge().eval("_id").as_int();
        const pyb::ObjectRef capsule = bridge().eval_ref("_cap");
        {
            const pyb::Tensor t = bridge().interpreter().call(
                [&](pyb::Python py) { return pyb::tensor_from_dlpack(py, capsule.get(py)); });
            EXPECT_EQ(t.dtype(), pyb::dtype_of<float>());
            EXPECT_EQ(deleter_calls(id), 0);  // held by `t`
        }
        bridge().exec("pass\n");  // the release of `t` runs on the interpreter thread before this
        EXPECT_EQ(deleter_calls(id), 1);
    }
}

TEST_F(DLPackMalformed, DunderDlpackProducersAreCheckedToo) {
    // An object whose __dlpack__ returns a malformed capsule, versioned (max_version asked)
    // or, when it refuses max_version, legacy; also through a call's result conversion.
    bridge().exec(
        "_bad = _dp.Producer(ndim=2, shape=(2, -1))\n"
        "class _OldProducer:\n"
        "    def __init__(self): self.inner = _dp.Producer(lanes=2)\n"
        "    def __dlpack__(self, stream=None):\n"
        "        return self.inner.__dlpack__(stream=stream)\n"
        "    def __dlpack_device__(self): return (1, 0)\n"
        "_old = _OldProducer()\n");
    const pyb::ObjectRef bad = bridge().eval_ref("_bad"), old = bridge().eval_ref("_old");
    auto take = [&](const pyb::ObjectRef &o) {
        return error_of([&] {
            bridge().interpreter().call([&](pyb::Python py) { (void)pyb::tensor_from_dlpack(py, o.get(py)); });
        });
    };
    EXPECT_EQ(take(bad), "pybridge: refused a malformed DLPack tensor from its producer: shape[1]=-1 (negative extent)");
    EXPECT_EQ(take(old), "pybridge: refused a malformed DLPack tensor from its producer: dtype.lanes=2 (only 1 is supported)");
    EXPECT_EQ(bridge().eval("[_dp.deleter_calls(i) for i in _bad.ids + _old.inner.ids]"), pyb::list({1, 1}));
}

TEST_F(DLPackMalformed, AnotherMajorVersionIsFreedUnread) {
    std::int64_t id = -1;
    // ndim=-1 too: the version is checked first, so the fields are never read.
    EXPECT_EQ(consume_capsule("major=2, minor=0, ndim=-1, shape=()", id),
              "pybridge: the producer made a DLPack 2.0 tensor; this build reads DLPack 1.x");
    EXPECT_EQ(deleter_calls(id), 1);
}
