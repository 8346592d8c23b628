// Op handles (bridge/op.hpp): resolving, calling with host values, results that stay in
// Python, autograd from the host, grad-mode scopes per host thread, ops defined from source.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "shared_bridge.hpp"

using pyb_test::bridge;
using pyb_test::error_of;

namespace {

struct HostFloats {
    std::vector<float> data;
    pyb::Tensor tensor;
    HostFloats(std::vector<float> values, std::vector<std::int64_t> shape)
        : data(std::move(values)), tensor(pyb::Tensor::from_buffer(data.data(), std::move(shape), pyb::dtype_of<float>())) {}
};

std::vector<float> floats(const pyb::Tensor &t) {
    EXPECT_TRUE(t.is_contiguous());
    return std::vector<float>(t.data_as<float>(), t.data_as<float>() + t.numel());
}

bool requires_grad(const pyb::ObjectRef &t) { return bridge().getattr(t, "requires_grad").as_bool(); }

}  // namespace

TEST(Ops, ResolvedOpsTakeHostTensorsSymbolsAndShapes) {
    bridge().exec("import torch\n");
    HostFloats a({1, 2, 3}, {3}), b({10, 20, 30}, {3});
    const pyb::Op add = pyb::Op::resolve(bridge(), "torch.add");
    EXPECT_EQ(add.name(), "torch.add");
    EXPECT_EQ(floats(add({a.tensor, b.tensor}).as_tensor()), (std::vector<float>{11, 22, 33}));
    EXPECT_EQ(floats(add({a.tensor, b.tensor}, {{"alpha", 2}}).as_tensor()), (std::vector<float>{21, 42, 63}));
    // The same through an Args vector (a braced list takes the initializer_list overload).
    const pyb::Args args{a.tensor, b.tensor};
    EXPECT_EQ(floats(add(args, {{"alpha", 3}}).as_tensor()), (std::vector<float>{31, 62, 93}));
    EXPECT_EQ(floats(pyb::to_host(bridge(), add.call_ref(args)))[2], 33.f);
    EXPECT_EQ(floats(pyb::to_host(bridge(), add.call_ref({b.tensor, a.tensor}, {{"alpha", -1}}))), (std::vector<float>{9, 18, 27}));
    EXPECT_EQ(error_of([&] { pyb::Op::resolve(bridge(), "torch.neg")(); }).rfind("TypeError: ", 0), 0u);
    // A keyword given twice is refused, not last-one-wins.
    EXPECT_EQ(error_of([&] { add({a.tensor, b.tensor}, {{"alpha", 2}, {"alpha", 3}}); }),
              "pybridge: keyword argument 'alpha' given more than once");
    // to_host of something that is not a tensor names what it got.
    EXPECT_EQ(error_of([&] { pyb::to_host(bridge(), bridge().eval_ref("3.5")); }),
              "pybridge: expected a torch.Tensor, got float");

    const pyb::Tensor zeros =
        pyb::Op::resolve(bridge(), "torch.zeros")({pyb::IntList{{2, 3}}}, {{"dtype", pyb::Symbol{"f64"}}}).as_tensor();
    EXPECT_EQ(zeros.shape(), (std::vector<std::int64_t>{2, 3}));
    EXPECT_EQ(pyb::dtype_name(zeros.dtype()), "float64");

    // A tuple of tensors comes back as a Tuple of host views: torch.linalg.svd.
    HostFloats m({3, 0, 0, 0, -2, 0, 0, 0, 1}, {3, 3});
    const pyb::Value usv = pyb::Op::resolve(bridge(), "torch.linalg.svd")({m.tensor});
    ASSERT_EQ(usv.as_tuple().items.size(), 3u);
    EXPECT_EQ(floats(usv.as_tuple().items[1].as_tensor()), (std::vector<float>{3, 2, 1}));  // singular values
}

TEST(Ops, ResolveErrorsNameWhatIsMissing) {
    EXPECT_EQ(error_of([] { pyb::Op::resolve(bridge(), "torch.nn.functional.nope"); }),
              "AttributeError: 'torch.nn.functional' has no attribute 'nope' (resolving 'torch.nn.functional.nope')");
    EXPECT_EQ(error_of([] { pyb::Op::resolve(bridge(), "nosuchmodule.f"); }),
              "ModuleNotFoundError: no module of 'nosuchmodule.f' can be imported (tried 'nosuchmodule')");
    EXPECT_EQ(error_of([] { pyb::Op::resolve(bridge(), "torch.float32"); }),
              "TypeError: 'torch.float32' is a dtype, not callable");
    EXPECT_EQ(error_of([] { pyb::Op::resolve(bridge(), "torch..add"); }), "ValueError: not a dotted name: 'torch..add'");
}

TEST(Ops, AChainKeepsItsIntermediatesInPython) {
    HostFloats a({1, 2}, {2}), b({3, 4}, {2});
    const pyb::Op add = pyb::Op::resolve(bridge(), "torch.add"), mul = pyb::Op::resolve(bridge(), "torch.mul");
    const pyb::ObjectRef sum = add.call_ref({a.tensor, b.tensor});
    const pyb::ObjectRef doubled = mul.call_ref({pyb::Value(sum), 2.0});
    EXPECT_TRUE(bridge().isinstance(doubled, bridge().eval_ref("torch.Tensor")));
    EXPECT_EQ(floats(pyb::to_host(bridge(), doubled)), (std::vector<float>{8, 12}));
    // to_host is a view of torch's memory, not a copy.
    EXPECT_EQ(pyb_test::address(pyb::to_host(bridge(), doubled).data()),
              bridge().call_method(doubled, "data_ptr").as_int());
}

TEST(Ops, AutogradFromTheHostGivesGradAsAHostView) {
    HostFloats x({1, -2, 3}, {3});
    const pyb::ObjectRef leaf = pyb::to_torch(bridge(), x.tensor, /*requires_grad=*/true);
    EXPECT_EQ(pyb_test::address(x.data.data()), bridge().call_method(leaf, "data_ptr").as_int());  // zero-copy leaf
    const pyb::Op mul = pyb::Op::resolve(bridge(), "torch.mul"), sum = pyb::Op::resolve(bridge(), "torch.sum");
    const pyb::ObjectRef loss = sum.call_ref({pyb::Value(mul.call_ref({pyb::Value(leaf), pyb::Value(leaf)}))});
    EXPECT_TRUE(requires_grad(loss));
    bridge().call_method(loss, "backward");
    const pyb::Tensor grad = bridge().getattr(leaf, "grad").as_tensor();
    EXPECT_EQ(floats(grad), (std::vector<float>{2, -4, 6}));  // d(sum x^2)/dx = 2x
    EXPECT_EQ(pyb_test::address(grad.data()),
              bridge().call_method(bridge().getattr_ref(leaf, "grad"), "data_ptr").as_int());
    // The leaf is its own tensor: the host tensor itself still crosses as plain data.
    EXPECT_FALSE(requires_grad(bridge().call_ref(bridge().eval_ref("lambda t: t"), {x.tensor})));
    EXPECT_FALSE(bridge().call(bridge().eval_ref("lambda a, b: a is b"), {pyb::Value(leaf), x.tensor}).as_bool());
}

TEST(Ops, GradScopesApplyToTheCallsInside) {
    HostFloats x({1, 2}, {2});
    const pyb::ObjectRef leaf = pyb::to_torch(bridge(), x.tensor, true);
    const pyb::Op mul = pyb::Op::resolve(bridge(), "torch.mul");
    EXPECT_TRUE(requires_grad(mul.call_ref({pyb::Value(leaf), 3.0})));
    {
        pyb::GradScope off(pyb::GradMode::Disabled);
        EXPECT_FALSE(requires_grad(mul.call_ref({pyb::Value(leaf), 3.0})));
        {
            pyb::GradScope on(pyb::GradMode::Enabled);
            EXPECT_TRUE(requires_grad(mul.call_ref({pyb::Value(leaf), 3.0})));
        }
        EXPECT_EQ(pyb::GradScope::current(), pyb::GradMode::Disabled);
    }
    {
        pyb::GradScope inference(pyb::GradMode::Inference);
        const pyb::ObjectRef r = mul.call_ref({pyb::Value(leaf), 3.0});
        EXPECT_TRUE(bridge().call_method(r, "is_inference").as_bool());
    }
    EXPECT_EQ(pyb::GradScope::current(), pyb::GradMode::Inherit);
    EXPECT_TRUE(bridge().eval("torch.is_grad_enabled()").as_bool());  // the interpreter thread's own mode is untouched
}

TEST(Ops, AGradScopeOnOneHostThreadDoesNotLeakIntoAnothers) {
    HostFloats x({1, 2}, {2});
    const pyb::ObjectRef leaf = pyb::to_torch(bridge(), x.tensor, true);
    const pyb::Op mul = pyb::Op::resolve(bridge(), "torch.mul");
    std::atomic<int> wrong{0};
    std::thread scoped([&] {
        pyb::GradScope off(pyb::GradMode::Disabled);
        for (int i = 0; i < 300; ++i) wrong += requires_grad(mul.call_ref({pyb::Value(leaf), 2.0}));
    });
    std::thread plain([&] {
        for (int i = 0; i < 300; ++i) wrong += !requires_grad(mul.call_ref({pyb::Value(leaf), 2.0}));
    });
    scoped.join();
    plain.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(Ops, DefinedOpsAreCallableByHandleAndThroughTorchsDispatcherWithGradients) {
    const char *source =
        "def scaled_gelu(x: torch.Tensor, w: torch.Tensor, s: float) -> torch.Tensor:\n"
        "    return torch.nn.functional.gelu(x * w) * s\n";
    const pyb::Op op = pyb::define_op(bridge(), "pyb_host::scaled_gelu", source);
    HostFloats x({-1, 0.5f, 2}, {3}), w({2, 2, 2}, {3});
    const std::vector<float> by_handle = floats(op({x.tensor, w.tensor, 1.5}).as_tensor());
    const std::vector<float> by_name =
        floats(pyb::Op::resolve(bridge(), "torch.ops.pyb_host.scaled_gelu")({x.tensor, w.tensor, 1.5}).as_tensor());
    const std::vector<float> plain =
        floats(bridge()
                   .call(pyb_test::py_fn("lambda x, w: torch.nn.functional.gelu(x * w) * 1.5"), {x.tensor, w.tensor})
                   .as_tensor());
    EXPECT_EQ(by_handle, plain);
    EXPECT_EQ(by_name, plain);
    EXPECT_TRUE(bridge()
                    .eval("torch.autograd.gradcheck(lambda a, b: torch.ops.pyb_host.scaled_gelu(a, b, 1.5), "
                          "(torch.randn(4, dtype=torch.float64, requires_grad=True), "
                          "torch.randn(4, dtype=torch.float64, requires_grad=True)))")
                    .as_bool());
    // Compiled with torch.compile: same values.
    const pyb::Op compiled = pyb::define_op(
        bridge(), "pyb_host::scaled_gelu_compiled",
        "def scaled_gelu_compiled(x: torch.Tensor, w: torch.Tensor, s: float) -> torch.Tensor:\n"
        "    return torch.nn.functional.gelu(x * w) * s\n",
        {/*compile=*/true});
    const std::vector<float> c = floats(compiled({x.tensor, w.tensor, 1.5}).as_tensor());
    for (size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c[i], plain[i], 1e-6) << i;
    // Errors: a name defined twice, a source without the function.
    EXPECT_EQ(error_of([&] { pyb::define_op(bridge(), "pyb_host::scaled_gelu", source); }),
              "RuntimeError: op 'pyb_host::scaled_gelu' is already defined in this process "
              "(torch.ops.pyb_host.scaled_gelu)");
    EXPECT_EQ(error_of([] { pyb::define_op(bridge(), "pyb_host::missing", "def other(x: torch.Tensor) -> torch.Tensor:\n    return x\n"); }),
              "NameError: the source of 'pyb_host::missing' defines no function 'missing'");
}
