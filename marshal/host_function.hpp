// pybridge/marshal/host_function.hpp — a C++ callable that Python can call.
//
// A HostFunction crosses to Python (as a Value of kind Function) as a builtin callable.
// Python calls it with any arguments; they arrive converted by the value table, and the
// returned Value goes back the same way. An exception the C++ code throws becomes a
// pybridge.HostError in Python (catchable there); if it propagates out of the host's own
// call, the host gets the original C++ exception back (host_error.hpp). A PythonError from
// a nested bridge call re-raises the original Python exception.
//
//   auto twice = pyb::HostFunction::make("twice", [](const pyb::Args &a, const pyb::Kwargs &) {
//       return pyb::Value(2 * a.at(0).as_int());
//   });
//   bridge.call(bridge.eval("lambda f: f(21)").as_object(), {twice});   // 42
//
// Thread contract: the function runs on the interpreter thread, inside the call that
// invoked it, so it may call the bridge again (re-entrant calls run inline). Called from
// another Python thread it raises RuntimeError instead. The HostFunction (and what it
// captures) is destroyed on whichever thread drops the last reference, Python's included.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "../gil/python_token.hpp"
#include "value.hpp"

struct _object;  // PyObject, without Python.h

namespace pyb {

class HostFunction {
public:
    using Fn = std::function<Value(const Args &, const Kwargs &)>;

    static std::shared_ptr<const HostFunction> make(std::string name, Fn fn) {
        return std::make_shared<const HostFunction>(std::move(name), std::move(fn));
    }
    HostFunction(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {}

    const std::string &name() const noexcept { return name_; }
    Value operator()(const Args &args, const Kwargs &kwargs) const { return fn_(args, kwargs); }

private:
    std::string name_;
    Fn fn_;
};

// Conversion, used by convert.hpp. Interpreter thread.
_object *host_function_to_python(Python, const std::shared_ptr<const HostFunction> &fn);  // new reference
// The HostFunction behind `obj` if it is one of ours, else null.
std::shared_ptr<const HostFunction> host_function_from_python(Python, _object *obj) noexcept;

}  // namespace pyb
