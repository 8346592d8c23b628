// tests/gpu: CUDA tensors across the bridge, on a machine with an NVIDIA GPU.
//
// Checks, each printed as "ok ..." or "FAIL ...":
//   1. torch -> host: a CUDA tensor arrives as a kDLCUDA host view of the same device memory;
//   2. host -> torch: that view goes back as a torch tensor over the same pointer, equal values;
//   3. producer role of the stream handshake: host data stated ready on a busy stream is
//      seen complete by torch on its own stream (the handshake made torch's stream wait);
//   4. consumer role: the host asks for the data on its stream while torch's current stream
//      is still writing it; a reduction on the host's stream sees the finished values;
//   5. a pybridge.DLPackTensor over CUDA memory taken by torch.from_dlpack without a copy;
// then times 1 GiB hand-offs each way (median of 101, microseconds).
// Exit status: 0 all passed, 1 a check failed, 77 no CUDA device (nothing checked).
// Run it with tests/gpu/run.sh, which builds pybridge against the machine's Python and torch.
#include <bridge/pybridge.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

int g_failures = 0;

void check(bool ok, const std::string &what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++g_failures;
}

std::int64_t address(const void *p) { return static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(p)); }

// The host view of the torch tensor `name`, taken with `stream` (see DLPackRequest).
pyb::Tensor host_view(pyb::Bridge &py, const char *name, pyb::dlpack::StreamArg stream) {
    const pyb::ObjectRef obj = py.eval_ref(name);
    return py.interpreter().call([&](pyb::Python p) { return pyb::tensor_from_python(p, obj.get(p), stream); });
}

// Binds `name` in __main__ to a torch tensor over the host tensor `t`.
void to_torch(pyb::Bridge &py, const char *name, const pyb::Tensor &t) {
    py.call(py.eval_ref(("lambda v: globals().__setitem__('" + std::string(name) + "', v)").c_str()), {pyb::Value(t)});
}

double median_us(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main() {
    pyb::Bridge py;
    py.exec("import torch\n");
    if (!py.eval("torch.cuda.is_available()").as_bool()) {
        std::printf("no CUDA device visible to torch %s: nothing checked\n", py.eval("str(torch.__version__)").as_str().c_str());
        return 77;
    }
    std::printf("torch %s, CUDA %s, %s\n", py.eval("str(torch.__version__)").as_str().c_str(),
                py.eval("str(torch.version.cuda)").as_str().c_str(),
                py.eval("torch.cuda.get_device_name(0)").as_str().c_str());

    // 1, 2: both directions, same memory.
    py.exec("x = torch.arange(1 << 20, dtype=torch.float32, device='cuda')\n");
    const pyb::Tensor t = host_view(py, "x", std::nullopt);
    check(t.device().device_type == kDLCUDA && t.device().device_id == 0, "torch -> host: device is " + pyb::device_name(t.device()));
    check(address(t.data()) == py.eval("x.data_ptr()").as_int(), "torch -> host: same device pointer");
    check(t.shape() == std::vector<std::int64_t>{1 << 20} && t.dtype().code == kDLFloat, "torch -> host: " + t.describe());
    to_torch(py, "y", t);
    check(py.eval("y.data_ptr() == x.data_ptr() and y.device == x.device").as_bool(), "host -> torch: same device pointer");
    check(py.eval("bool(torch.equal(y, x))").as_bool(), "host -> torch: equal values");

    // 3: producer role. The fill is queued behind ~0.2 s of sleep on stream s; the host
    // states its view ready on s; torch (on the default stream) must see the fill.
    py.exec(
        "n = 1 << 24\n"
        "buf = torch.zeros(n, device='cuda')\n"
        "torch.cuda.synchronize()\n"
        "s = torch.cuda.Stream()\n"
        "with torch.cuda.stream(s):\n"
        "    torch.cuda._sleep(400_000_000)\n"
        "    buf.fill_(1.0)\n");
    const std::int64_t s = py.eval("s.cuda_stream").as_int();
    const pyb::Tensor ready_on_s = host_view(py, "buf", pyb::dlpack::kNoSync).on_stream(s);
    to_torch(py, "seen", ready_on_s);
    check(py.eval("seen.sum().item()").as_float() == static_cast<double>(1 << 24),
          "producer role: torch's stream waited for the host's ready stream");

    // 4: consumer role. torch's current stream is s (busy, then fills with 2); the host
    // asks for the data on stream c; a sum on c must see 2s.
    py.exec(
        "c = torch.cuda.Stream()\n"
        "torch.cuda.set_stream(s)\n"
        "torch.cuda._sleep(400_000_000)\n"
        "buf.fill_(2.0)\n");
    const std::int64_t c = py.eval("c.cuda_stream").as_int();
    const pyb::Tensor on_c = host_view(py, "buf", c);
    py.exec("torch.cuda.set_stream(torch.cuda.default_stream())\n");  // s keeps its queued work
    check(on_c.ready_stream() == pyb::dlpack::StreamArg(c), "consumer role: the view reports the host's stream");
    py.exec(
        "with torch.cuda.stream(c):\n"
        "    total_on_c = buf.sum()\n"
        "c.synchronize()\n");
    check(py.eval("total_on_c.item()").as_float() == 2.0 * (1 << 24), "consumer role: the host's stream waited for torch's");

    // 5: pybridge's own tensor type, taken by torch.from_dlpack.
    const pyb::ObjectRef own = py.interpreter().call(
        [&](pyb::Python p) { return pyb::ObjectRef::steal(p, pyb::tensor_to_dlpack_object(p, t)); });
    const pyb::Value ptr = py.call(py.eval_ref("lambda o: torch.from_dlpack(o).data_ptr()"), {pyb::Value(own)});
    check(ptr.as_int() == address(t.data()), "torch.from_dlpack(pybridge.DLPackTensor on cuda): same pointer");

    // Timing: 1 GiB each way (no copies: the time does not depend on the size).
    py.exec("big = torch.empty(1 << 28, dtype=torch.float32, device='cuda')\n");
    const pyb::ObjectRef big = py.eval_ref("big");
    std::vector<double> in_us, out_us;
    py.interpreter().call([&](pyb::Python p) {
        for (int i = 0; i < 101; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            pyb::Tensor h = pyb::tensor_from_python(p, big.get(p));
            const auto t1 = std::chrono::steady_clock::now();
            PyObject *back = pyb::tensor_to_python(p, h);
            const auto t2 = std::chrono::steady_clock::now();
            Py_DECREF(back);
            in_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            out_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        }
    });
    std::printf("1 GiB CUDA tensor: torch -> host %.2f us, host -> torch %.2f us (median of 101)\n", median_us(in_us),
                median_us(out_us));

    py.stop();
    std::printf("%s: %d check(s) failed\n", g_failures ? "FAILED" : "PASSED", g_failures);
    return g_failures ? 1 : 0;
}
