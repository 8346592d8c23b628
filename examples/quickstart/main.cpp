// The README's C++ example, built and run by the tests so it never goes stale.
#include <bridge/pybridge.hpp>
#include <cstdio>
#include <vector>

int main() {
    pyb::Bridge py;                                        // starts CPython on its own thread
    pyb::ObjectRef torch = py.import("torch");
    std::vector<float> host(6, 1.5f);                      // host memory, shared with torch
    pyb::Tensor t = pyb::Tensor::from_buffer(host.data(), {2, 3}, pyb::dtype_of<float>());
    pyb::Value sum = py.call_method(torch, "sum", {t});    // a 0-d torch tensor comes back...
    std::printf("%f\n", sum.as_tensor().data_as<float>()[0]);  // ...as a zero-copy view: 9.0
    try {
        py.exec("raise ValueError('bad shape')");
    } catch (const pyb::PythonError &e) {                  // type, message, traceback
        std::printf("%s: %s\n", e.type_name().c_str(), e.message().c_str());
    }
    py.stop();                                             // explicit; also done by ~Bridge
}
