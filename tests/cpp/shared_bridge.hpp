// The one Bridge the test suite shares: CPython starts once per process.
#pragma once

#include <bridge/pybridge.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace pyb_test {

pyb::Bridge &bridge();

// The Python callable that `expression` (a lambda, a function name) evaluates to.
inline pyb::ObjectRef py_fn(const char *expression) { return bridge().eval(expression).as_object(); }

// A pointer as the int Python reports for it (data_ptr(), ctypes.data).
inline std::int64_t address(const void *p) {
    return static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(p));
}

// What `f` throws, as text; "(no error)" if it returns.
inline std::string error_of(const std::function<void()> &f) {
    try {
        f();
    } catch (const std::exception &e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace pyb_test
