// pybridge/gil/native_module.hpp — internal: the `pybridge._native` module, through which
// Python code reaches the types the C++ side creates (pybridge.CallInterrupted,
// pybridge.HostError); py/pybridge re-exports them. Interpreter thread, GIL held.
#pragma once

struct _object;

namespace pyb {

// Adds `type` to sys.modules["pybridge._native"] as `name` (creating the module once).
// Failures are cleared: the type still works, it is only not importable by name.
void publish_native_type(const char *name, _object *type) noexcept;

}  // namespace pyb
