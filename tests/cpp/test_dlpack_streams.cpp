// The DLPack stream handshake (marshal/dlpack_stream.hpp) without a GPU: the decision table
// of the spec, and both roles driven with CUDA-labelled host tensors, with the GPU half
// (pybridge.streams.wait_stream) replaced by a recorder. The GPU half itself runs in
// tests/gpu/ on a machine with a GPU.
#include <gtest/gtest.h>

#include <atomic>

#include "shared_bridge.hpp"

using pyb_test::bridge;
using pyb_test::address;
using pyb_test::error_of;
namespace dl = pyb::dlpack;

namespace {

constexpr DLDevice kCuda{kDLCUDA, 0};
constexpr DLDevice kRocm{kDLROCM, 1};
constexpr DLDevice kCpu{kDLCPU, 0};

std::string plan_of(DLDevice device, dl::StreamArg producer, dl::StreamArg consumer) {
    try {
        const dl::StreamSync p = dl::plan_stream_sync(device, producer, consumer);
        return p.wait ? "wait " + std::to_string(p.consumer) + " for " + std::to_string(p.producer) : "no wait";
    } catch (const pyb::Error &e) {
        return e.what();
    }
}

}  // namespace

TEST(DLPackStreamPlan, CudaFollowsTheSpecsStreamValues) {
    EXPECT_EQ(plan_of(kCuda, std::nullopt, std::nullopt), "no wait");  // both the legacy default stream
    EXPECT_EQ(plan_of(kCuda, std::nullopt, 1), "no wait");             // None is 1 on CUDA
    EXPECT_EQ(plan_of(kCuda, std::nullopt, 5), "wait 5 for 1");
    EXPECT_EQ(plan_of(kCuda, 7, std::nullopt), "wait 1 for 7");
    EXPECT_EQ(plan_of(kCuda, 7, 7), "no wait");
    EXPECT_EQ(plan_of(kCuda, 2, 1), "wait 1 for 2");  // per-thread vs legacy default
    EXPECT_EQ(plan_of(kCuda, 7, -1), "no wait");      // the consumer asked for no synchronisation
    EXPECT_EQ(plan_of(kCuda, -1, 5), "no wait");      // the producer has no pending work
    EXPECT_EQ(plan_of(kCuda, 7, 0),
              "pybridge: stream 0 is not valid for a tensor on cuda:0: 0 is ambiguous on CUDA (use 1 for the "
              "legacy default stream, 2 for the per-thread one)");
    EXPECT_EQ(plan_of(kCuda, 0, 5), plan_of(kCuda, 7, 0));  // the producer's side is checked too
    EXPECT_EQ(plan_of(kCuda, 7, -2),
              "pybridge: stream -2 is not valid for a tensor on cuda:0: stream handles are -1, None or non-negative");
}

TEST(DLPackStreamPlan, PinnedAndManagedMemoryUseCudaStreams) {
    for (DLDeviceType type : {kDLCUDAHost, kDLCUDAManaged}) {
        const DLDevice d{type, 0};
        EXPECT_EQ(plan_of(d, 9, std::nullopt), "wait 1 for 9");
        EXPECT_NE(plan_of(d, 9, 0).find("0 is ambiguous on CUDA"), std::string::npos);
    }
}

TEST(DLPackStreamPlan, RocmDefaultIsZeroAndRefusesCudasDefaults) {
    EXPECT_EQ(plan_of(kRocm, std::nullopt, 0), "no wait");
    EXPECT_EQ(plan_of(kRocm, std::nullopt, 5), "wait 5 for 0");
    EXPECT_EQ(plan_of(kRocm, 5, 5), "no wait");
    EXPECT_EQ(plan_of(kRocm, 5, 1), "pybridge: stream 1 is not valid for a tensor on rocm:1: 1 and 2 are CUDA's default "
                                    "streams, not ROCm's");
    EXPECT_NE(plan_of(kRocm, 5, 2).find("not ROCm's"), std::string::npos);
}

TEST(DLPackStreamPlan, DevicesWithoutStreamsTakeOnlyNoneOrMinusOne) {
    EXPECT_EQ(plan_of(kCpu, std::nullopt, std::nullopt), "no wait");
    EXPECT_EQ(plan_of(kCpu, std::nullopt, -1), "no wait");
    EXPECT_EQ(plan_of(kCpu, std::nullopt, 5), "pybridge: stream 5 is not valid for a tensor on cpu: this device has no "
                                              "streams pybridge can synchronise (use None or -1)");
    EXPECT_NE(plan_of({kDLVulkan, 0}, std::nullopt, 1).find("no streams"), std::string::npos);
    EXPECT_FALSE(dl::has_streams(kDLCPU));
    EXPECT_FALSE(dl::has_streams(kDLMetal));
    EXPECT_TRUE(dl::has_streams(kDLROCMHost));
}

namespace {

// A C exchange table whose current_work_stream answers what the test says.
int g_work_stream_rc = 0;
void *g_work_stream = nullptr;
int fake_work_stream(DLDeviceType, int32_t, void **out) {
    *out = g_work_stream;
    if (g_work_stream_rc != 0) PyErr_SetString(PyExc_RuntimeError, "no such device");
    return g_work_stream_rc;
}

}  // namespace

TEST(DLPackStreamPlan, AnExchangeTablesWorkStreamIsTheProducersStream) {
    DLPackExchangeAPI api{};
    api.current_work_stream = &fake_work_stream;
    bridge().interpreter().call([&](pyb::Python py) {
        g_work_stream = reinterpret_cast<void *>(0x1234);
        EXPECT_EQ(dl::work_stream(py, api, kCuda), dl::StreamArg(0x1234));
        EXPECT_EQ(dl::work_stream(py, api, kCpu), std::nullopt);  // no streams: not even asked
        g_work_stream = nullptr;
        EXPECT_EQ(dl::work_stream(py, api, kCuda), std::nullopt);  // NULL: the default stream
        g_work_stream_rc = -1;
        EXPECT_EQ(error_of([&] { dl::work_stream(py, api, kCuda); }), "RuntimeError: no such device");
        g_work_stream_rc = 0;
        // pybridge's own table launches no work: the default stream.
        EXPECT_EQ(dl::work_stream(py, *pyb::pybridge_exchange_api(), kCuda), std::nullopt);
    });
}

namespace {

// Host memory labelled as CUDA memory: nothing here dereferences it as device memory; the
// handshake and the descriptors are what is checked. Counts its releases. The memory and the
// count are shared with the release callbacks, which may run after the test body ended (a
// handle dropped on a host thread is released on the interpreter thread later).
struct FakeCudaBuffer {
    struct State {
        std::vector<float> data = {1, 2, 3, 4};
        std::atomic<int> releases{0};
    };
    std::shared_ptr<State> state = std::make_shared<State>();
    float *data() const { return state->data.data(); }
    int releases() const { return state->releases.load(); }
    pyb::Tensor tensor(DLDevice device = kCuda) const {
        auto st = state;
        return pyb::Tensor::from_buffer(st->data.data(), {4}, pyb::dtype_of<float>(), {}, [st] { ++st->releases; },
                                        device);
    }
};

pyb::ObjectRef dlpack_object(const pyb::Tensor &t) {
    return bridge().interpreter().call(
        [&](pyb::Python py) { return pyb::ObjectRef::steal(py, pyb::tensor_to_dlpack_object(py, t)); });
}

// Binds `name` in __main__ (where bridge().exec runs) to `obj`.
void set_global(const char *name, const pyb::ObjectRef &obj) {
    bridge().call(pyb_test::py_fn("lambda name, o: globals().__setitem__(name, o)"), {name, pyb::Value(obj)});
}

pyb::Tensor from_dlpack(const pyb::ObjectRef &obj, const pyb::DLPackRequest &request = {}) {
    return bridge().interpreter().call(
        [&](pyb::Python py) { return pyb::tensor_from_dlpack(py, obj.get(py), request); });
}

// Records every wait pybridge asks of the GPU half instead of doing it.
class DLPackStreams : public ::testing::Test {
protected:
    void SetUp() override {
        bridge().exec(
            "import pybridge.streams as _streams\n"
            "_real_wait_stream = _streams.wait_stream\n"
            "_waits = []\n"
            "_streams.wait_stream = lambda *a: _waits.append(a)\n"
            "class _Producer:\n"
            "    '''A DLPack producer on `device` that records the stream it is asked for.'''\n"
            "    def __init__(self, inner, device):\n"
            "        self.inner, self.device, self.streams = inner, device, []\n"
            "    def __dlpack_device__(self):\n"
            "        return self.device\n"
            "    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):\n"
            "        self.streams.append(stream)\n"
            "        return self.inner.__dlpack__(stream=-1, max_version=max_version)\n");
    }
    void TearDown() override {
        // Drop what the test left in Python, and let the releases run now.
        bridge().exec(
            "_streams.wait_stream = _real_wait_stream\n"
            "for _name in ('_t', '_c', '_idle', '_default', '_inner', '_p'):\n"
            "    globals().pop(_name, None)\n");
        bridge().exec("pass\n");
    }

    static std::string waits() { return bridge().eval("repr(_waits)").as_str(); }
};

}  // namespace

TEST_F(DLPackStreams, ProducerMakesTheConsumersStreamWaitForTheHostsReadyStream) {
    FakeCudaBuffer buf;
    {
        const pyb::ObjectRef obj = dlpack_object(buf.tensor().on_stream(7));
        set_global("_t", obj);
        EXPECT_EQ(bridge().eval("_t.__dlpack_device__()"), pyb::tuple({2, 0}));  // (kDLCUDA, 0)
        bridge().exec("_c = _t.__dlpack__(stream=5, max_version=(1, 0))\n");
        EXPECT_EQ(waits(), "[(2, 0, 7, 5)]");  // event on stream 7, waited on by stream 5
        EXPECT_NE(bridge().eval("repr(_c)").as_str().find("\"dltensor_versioned\""), std::string::npos);
        bridge().exec("_waits.clear(); _c = _t.__dlpack__(stream=None, max_version=(1, 0))\n");
        EXPECT_EQ(waits(), "[(2, 0, 7, 1)]");  // None: the legacy default stream
        bridge().exec("_waits.clear(); _t.__dlpack__(stream=7); _t.__dlpack__(stream=-1)\n");
        EXPECT_EQ(waits(), "[]");  // same stream; no synchronisation asked
        EXPECT_EQ(error_of([] { bridge().exec("_t.__dlpack__(stream=0)"); }).rfind("ValueError: pybridge: stream 0 is not "
                                                                                     "valid for a tensor on cuda:0", 0),
                  0u);
        EXPECT_EQ(error_of([] { bridge().exec("_t.__dlpack__(stream='5')"); }),
                  "TypeError: pybridge: __dlpack__ stream must be an int or None, not str");
        bridge().exec("del _t, _c\n");
    }
    bridge().exec("pass\n");  // handles dropped on a host thread are released before the next call
    EXPECT_EQ(buf.releases(), 1);
}

TEST_F(DLPackStreams, ProducerWithoutPendingWorkOrOnTheDefaultStreamNeverWaits) {
    FakeCudaBuffer buf;
    set_global("_idle", dlpack_object(buf.tensor().on_stream(-1)));
    set_global("_default", dlpack_object(buf.tensor()));
    bridge().exec("_idle.__dlpack__(stream=5); _default.__dlpack__(stream=None); _default.__dlpack__(stream=1)\n");
    EXPECT_EQ(waits(), "[]");
    bridge().exec("_default.__dlpack__(stream=2)\n");
    EXPECT_EQ(waits(), "[(2, 0, 1, 2)]");  // the per-thread default stream is another stream
    bridge().exec("del _idle, _default\n");
}

TEST_F(DLPackStreams, AFailedWaitRaisesTheGpuHalfsErrorAndLeaksNothing) {
    FakeCudaBuffer buf;
    bridge().exec("_streams.wait_stream = _real_wait_stream\n");  // the real one: no CUDA here
    set_global("_t", dlpack_object(buf.tensor().on_stream(7)));
    const std::string err = error_of([] { bridge().exec("_t.__dlpack__(stream=5)"); });
    const bool cuda = bridge().eval("__import__('torch').cuda.is_available()").as_bool();
    if (!cuda) {
        EXPECT_EQ(err, "RuntimeError: pybridge: a DLPack hand-off on device type 2 needs stream 5 to wait for stream 7, "
                       "but torch.cuda is not available in this environment");
    }
    bridge().exec("del _t\n");
    EXPECT_EQ(buf.releases(), 1);
}

TEST_F(DLPackStreams, ConsumerPassesTheHostsStreamToProducersOnStreamDevices) {
    FakeCudaBuffer buf;
    set_global("_inner", dlpack_object(buf.tensor()));
    bridge().exec("_p = _Producer(_inner, (2, 0))\n");
    const pyb::ObjectRef producer = bridge().eval_ref("_p");
    const pyb::Tensor on5 = from_dlpack(producer, {5, std::nullopt});
    EXPECT_EQ(on5.ready_stream(), dl::StreamArg(5));  // the handshake made it ready there
    EXPECT_EQ(on5.device().device_type, kDLCUDA);
    EXPECT_EQ(on5.data(), buf.data());
    const pyb::Tensor deflt = from_dlpack(producer);
    EXPECT_EQ(deflt.ready_stream(), std::nullopt);
    EXPECT_EQ(bridge().eval("repr(_p.streams)").as_str(), "[5, None]");
    // A value the producer's device does not allow is refused before the producer is asked.
    EXPECT_NE(error_of([&] { from_dlpack(producer, {0, std::nullopt}); }).find("0 is ambiguous on CUDA"),
              std::string::npos);
    EXPECT_EQ(bridge().eval("len(_p.streams)").as_int(), 2);
    EXPECT_EQ(waits(), "[]");  // the producer synchronises on this path, not pybridge
}

TEST_F(DLPackStreams, ConsumerGivesCpuProducersNoStream) {
    static std::vector<float> data = {1, 2};  // Python keeps a view until TearDown
    set_global("_inner", dlpack_object(pyb::Tensor::from_buffer(data.data(), {2}, pyb::dtype_of<float>())));
    bridge().exec("_p = _Producer(_inner, (1, 0))\n");
    const pyb::Tensor t = from_dlpack(bridge().eval_ref("_p"), {5, std::nullopt});
    EXPECT_EQ(bridge().eval("repr(_p.streams)").as_str(), "[None]");
    EXPECT_EQ(t.ready_stream(), std::nullopt);  // CPU data has no stream
    EXPECT_EQ(t.data(), data.data());
}

TEST_F(DLPackStreams, PybridgesOwnTensorsHandshakeWithoutAProducerCall) {
    FakeCudaBuffer buf;
    const pyb::ObjectRef own = dlpack_object(buf.tensor().on_stream(7));
    const pyb::Tensor t = from_dlpack(own, {5, std::nullopt});
    EXPECT_EQ(waits(), "[(2, 0, 7, 5)]");
    EXPECT_EQ(t.ready_stream(), dl::StreamArg(5));
    EXPECT_EQ(t.data(), buf.data());
    const pyb::Tensor unsynced = from_dlpack(own, {-1, std::nullopt});
    EXPECT_EQ(waits(), "[(2, 0, 7, 5)]");  // -1: nothing more
    EXPECT_EQ(unsynced.ready_stream(), dl::StreamArg(-1));
}
