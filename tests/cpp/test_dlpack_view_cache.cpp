// Host tensors that keep their torch view (Tensor::keep_python_view): the same torch tensor
// comes back at each hand-off while it still is exactly a view of the host tensor; whatever
// Python changed in place (requires_grad, shape, strides, type, conj bit) gets a fresh
// view instead; a view made inside inference_mode is not kept; the view is released when
// the host's last handle goes, and at stop() at the latest. Without the opt-in every
// hand-off lends a fresh view, released with the call.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

#include "shared_bridge.hpp"

using pyb_test::bridge;

namespace {

// Host memory and a release counter that outlive the test body: a kept view is released
// asynchronously (on the interpreter thread, at a later call's drain), possibly after the
// test returned, so the release callback must not point into the test's stack frame.
struct Watched {
    std::shared_ptr<std::vector<float>> data = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
    std::shared_ptr<std::atomic<int>> released = std::make_shared<std::atomic<int>>(0);
    pyb::Tensor tensor(std::vector<std::int64_t> shape = {2, 3}, std::vector<std::int64_t> strides = {},
                       bool read_only = false, bool keep = true) {
        pyb::Tensor t = pyb::Tensor::from_buffer(data->data(), std::move(shape), pyb::dtype_of<float>(),
                                                 std::move(strides), [d = data, r = released] { r->fetch_add(1); },
                                                 pyb::cpu_device(), 0, read_only);
        if (keep) t.keep_python_view();
        return t;
    }
};

void define_helpers() {
    bridge().exec(
        "import torch\n"
        "_seen = []\n"
        "def _keep(t):\n"
        "    _seen.append(t)\n"
        "    return tuple(t.shape), t.stride(), t.requires_grad\n"
        "def _same(): return _seen[-1] is _seen[-2]\n");
}

bool last_two_are_one_object() { return bridge().eval("_same()").as_bool(); }

}  // namespace

TEST(DLPackViewCache, ByDefaultEachHandOffLendsAFreshViewReleasedWithTheCall) {
    define_helpers();
    Watched w;
    pyb::Tensor t = w.tensor({2, 3}, {}, false, /*keep=*/false);
    EXPECT_FALSE(t.keeps_python_view());
    const pyb::ObjectRef keep = bridge().eval_ref("_keep");
    bridge().call(keep, {t});
    bridge().call(keep, {t});
    EXPECT_FALSE(last_two_are_one_object());
    bridge().exec("_seen.clear()\n");
    // No Python view is left: dropping the handle runs release at once, on this thread.
    t = pyb::Tensor();
    EXPECT_EQ(w.released->load(), 1);
}

TEST(DLPackViewCache, OneHostTensorIsOneTorchTensorAcrossHandOffs) {
    define_helpers();
    Watched w;
    pyb::Tensor t = w.tensor();
    const pyb::ObjectRef keep = bridge().eval_ref("_keep");
    bridge().call(keep, {t});
    bridge().call(keep, {t});
    EXPECT_TRUE(last_two_are_one_object());
    bridge().call(keep, {t.on_stream(std::nullopt)});  // copies of the handle share the view
    EXPECT_TRUE(last_two_are_one_object());
    // The view is the host memory: a write from Python shows on the host and back.
    bridge().exec("_seen[-1][1, 2] = 60.0\n");
    EXPECT_EQ((*w.data)[5], 60.0f);
    bridge().exec("_seen.clear()\n");
    EXPECT_EQ(w.released->load(), 0);  // the host still holds the tensor, and so its view
    t = pyb::Tensor();
    bridge().exec("pass\n");  // the view's release, queued on this host thread, runs first
    EXPECT_EQ(w.released->load(), 1);
}

TEST(DLPackViewCache, ViewsChangedInPlaceByPythonAreNotReused) {
    define_helpers();
    Watched w;
    const pyb::Tensor t = w.tensor();
    const pyb::ObjectRef keep = bridge().eval_ref("_keep");
    for (const char *change : {"_seen[-1].requires_grad_()", "_seen[-1].unsqueeze_(0)", "_seen[-1].t_()",
                               "_seen[-1].resize_(6)", "_seen[-1].as_strided_((2, 2), (1, 2))",
                               "_seen[-1].set_(torch.zeros(2, 3))", "setattr(_seen[-1], '__class__', torch.nn.Parameter)"}) {
        SCOPED_TRACE(change);
        bridge().call(keep, {t});
        bridge().exec(std::string(change) + "\n");
        const pyb::Value seen = bridge().call(keep, {t});
        EXPECT_FALSE(last_two_are_one_object());
        // The fresh view is the host tensor as it is: (2, 3), strides (3, 1), no grad.
        const pyb::Tuple &r = seen.as_tuple();  // (shape, strides, requires_grad)
        const auto &shape = r.items[0].as_tuple().items, &strides = r.items[1].as_tuple().items;
        ASSERT_EQ(shape.size(), 2u);
        ASSERT_EQ(strides.size(), 2u);
        EXPECT_EQ(shape[0].as_int(), 2);
        EXPECT_EQ(shape[1].as_int(), 3);
        EXPECT_EQ(strides[0].as_int(), 3);
        EXPECT_EQ(strides[1].as_int(), 1);
        EXPECT_FALSE(r.items[2].as_bool());
        EXPECT_EQ(bridge().eval("_seen[-1].data_ptr()").as_int(), reinterpret_cast<std::intptr_t>(w.data->data()));
        // ...and is reused from then on.
        bridge().call(keep, {t});
        EXPECT_TRUE(last_two_are_one_object());
    }
    bridge().exec("_seen.clear()\n");
}

TEST(DLPackViewCache, StridedAndEmptyTensorsAreReusedWithTheirLayout) {
    define_helpers();
    Watched w;
    const pyb::ObjectRef keep = bridge().eval_ref("_keep");
    const pyb::Tensor transposed = w.tensor({3, 2}, {1, 3});
    const pyb::Value first = bridge().call(keep, {transposed});
    bridge().call(keep, {transposed});
    EXPECT_TRUE(last_two_are_one_object());
    EXPECT_EQ(first.as_tuple().items[1].as_tuple().items[0].as_int(), 1);
    EXPECT_EQ(first.as_tuple().items[1].as_tuple().items[1].as_int(), 3);
    const pyb::Tensor empty = w.tensor({0, 3});
    bridge().call(keep, {empty});
    bridge().call(keep, {empty});
    EXPECT_EQ(bridge().eval("tuple(_seen[-1].shape)").as_tuple().items[0].as_int(), 0);
    bridge().exec("_seen.clear()\n");
}

TEST(DLPackViewCache, ReadOnlyTensorsGetAFreshCopyEachTime) {
    define_helpers();
    Watched w;
    const pyb::Tensor t = w.tensor({2, 3}, {}, /*read_only=*/true);
    const pyb::ObjectRef keep = bridge().eval_ref("_keep");
    bridge().call(keep, {t});
    bridge().exec("_seen[-1].fill_(-1.0)\n");  // writes the copy only
    bridge().call(keep, {t});
    EXPECT_FALSE(last_two_are_one_object());
    EXPECT_EQ((*w.data)[0], 1.0f);
    EXPECT_DOUBLE_EQ(bridge().eval("float(_seen[-1][0, 0])").as_float(), 1.0);
    bridge().exec("_seen.clear()\n");
}

TEST(DLPackViewCache, AutogradSeesInPlaceWritesThroughTheSharedView) {
    // One torch tensor per host tensor also means one version counter: an in-place op on the
    // host tensor after it was saved for backward is caught by autograd, as in plain torch.
    define_helpers();
    Watched w;
    const pyb::Tensor x = w.tensor();
    bridge().exec("_w = torch.ones(2, 3, requires_grad=True)\n");
    const pyb::ObjectRef mul = bridge().eval_ref("lambda x: (x * _w).sum()");
    const pyb::ObjectRef add_ = bridge().eval_ref("lambda x: x.add_(1.0)");
    const pyb::Value loss = pyb::Value(bridge().call_ref(mul, {x}));
    bridge().call(add_, {x});
    EXPECT_EQ((*w.data)[0], 2.0f);
    const pyb::ObjectRef backward = bridge().eval_ref("lambda l: l.backward()");
    try {
        bridge().call(backward, {loss});
        ADD_FAILURE() << "backward after an in-place write to a saved input did not raise";
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "RuntimeError");
        EXPECT_NE(std::string(e.what()).find("modified by an inplace operation"), std::string::npos) << e.what();
    }
    bridge().exec("del _w\n");
}

TEST(DLPackViewCache, ConjugatedComplexViewsAreNotReused) {
    define_helpers();
    std::vector<float> data{1, 1, 2, -2};  // complex64 (1+1j), (2-2j)
    pyb::Tensor t = pyb::Tensor::from_buffer(data.data(), {2}, DLDataType{kDLComplex, 64, 1});
    t.keep_python_view();
    const pyb::ObjectRef keep = bridge().eval_ref("_keep");
    bridge().call(keep, {t});
    bridge().exec("torch._C._set_conj(_seen[-1], True)\n");
    bridge().call(keep, {t});
    EXPECT_FALSE(last_two_are_one_object());
    EXPECT_DOUBLE_EQ(bridge().eval("float(_seen[-1][0].imag)").as_float(), 1.0);  // not conjugated
    bridge().exec("_seen.clear()\n");
    t = pyb::Tensor();
    bridge().exec("pass\n");  // the kept view goes before `data` does
}

TEST(DLPackViewCache, AViewMadeInsideInferenceModeIsNotKept) {
    define_helpers();
    Watched w;
    const pyb::Tensor t = w.tensor();
    bridge().exec(
        "def _in_inference(get):\n"
        "    with torch.inference_mode():\n"
        "        _seen.append(get())\n"
        "        return _seen[-1].is_inference()\n");
    const auto get = pyb::HostFunction::make("get", [t](const pyb::Args &, const pyb::Kwargs &) { return pyb::Value(t); });
    EXPECT_TRUE(bridge().call(bridge().eval_ref("_in_inference"), {get}).as_bool());
    // Outside the mode the tensor is an ordinary one: in-place writes and autograd work.
    const pyb::Value after = bridge().call(bridge().eval_ref("lambda x: (x.add_(1.0), x.is_inference())[1]"), {t});
    EXPECT_FALSE(after.as_bool());
    EXPECT_EQ((*w.data)[0], 2.0f);
    bridge().exec("_seen.clear()\n");
}
