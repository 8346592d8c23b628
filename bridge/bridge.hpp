// pybridge/bridge/bridge.hpp — the public C++ API: one object that starts the embedded
// interpreter and runs Python calls on it.
//
// Thread contract: every member may be called from any host thread, concurrently. Each
// call is queued to the interpreter thread and runs there, FIFO, one at a time; the
// synchronous members block the caller until their call has run. Called from the
// interpreter thread itself (inside a host function Python called), they run inline.
//
// Errors: PythonError when Python raises (type, message, traceback); Error when a value
// cannot be converted; InterpreterStopped after stop().
//
//   pyb::Bridge py;                                          // starts CPython
//   pyb::ObjectRef math = py.import("math");
//   double r = py.call_method(math, "sqrt", {2.0}).as_float();  // 1.4142...
//   py.stop();
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../gil/interpreter.hpp"
#include "../marshal/value.hpp"

namespace pyb {

class Bridge {
public:
    // Starts the interpreter with the defaults and the PYBRIDGE_* environment variables
    // (config_from_environment() in gil/config.hpp). Throws Error if it cannot start or an
    // environment variable has a value it cannot use.
    Bridge();
    // Starts the interpreter with exactly `config` (no environment variables but
    // PYBRIDGE_PYTHON, used when config.python_executable is empty).
    explicit Bridge(InterpreterConfig config);

    // The interpreter, for custom work: bridge.interpreter().call([](pyb::Python py) {...}).
    Interpreter &interpreter() noexcept { return interp_; }

    // import `module` (dotted name); returns the module object.
    ObjectRef import(std::string_view module);

    // getattr(obj, name), converted by the value table / kept as a handle.
    Value getattr(const ObjectRef &obj, std::string_view name);
    ObjectRef getattr_ref(const ObjectRef &obj, std::string_view name);

    // callable(*args, **kwargs), result converted by the value table / kept as a handle.
    Value call(const ObjectRef &callable, const Args &args = {}, const Kwargs &kwargs = {});
    ObjectRef call_ref(const ObjectRef &callable, const Args &args = {}, const Kwargs &kwargs = {});

    // obj.method(*args, **kwargs) (also module.function(...)), converted / kept as a handle.
    Value call_method(const ObjectRef &obj, std::string_view method, const Args &args = {},
                      const Kwargs &kwargs = {});
    ObjectRef call_method_ref(const ObjectRef &obj, std::string_view method,
                              const Args &args = {}, const Kwargs &kwargs = {});

    // The asynchronous form of call_method: returns at once; the future holds the result
    // or the error. Arguments are copied (handles are shared, not deep-copied).
    Future<Value> call_method_async(ObjectRef obj, std::string method, Args args = {},
                                         Kwargs kwargs = {});

    // eval(expression) / exec(source) in the namespace of module __main__, which persists
    // between calls (names defined by exec are visible to later eval/exec).
    Value eval(std::string_view expression);
    void exec(std::string_view source);

    // A fresh globals dict (with __builtins__) for eval/exec that should not share __main__.
    // Keep it to make a persistent namespace; it is an ordinary dict handle.
    ObjectRef new_namespace();
    // eval/exec in `globals` (a dict handle, e.g. from new_namespace()), which persists.
    Value eval(std::string_view expression, const ObjectRef &globals);
    void exec(std::string_view source, const ObjectRef &globals);
    // eval in a one-off namespace holding `names` (str keys): nothing persists.
    Value eval(std::string_view expression, const Dict &names);
    // eval, keeping the result as a handle instead of converting it.
    ObjectRef eval_ref(std::string_view expression);

    // Object handle operations. Errors: PythonError (AttributeError, KeyError, TypeError
    // from len() of an unsized object, whatever __repr__/__len__/__iter__/__hash__ raise).
    void setattr(const ObjectRef &obj, std::string_view name, const Value &value);
    Value getitem(const ObjectRef &obj, const Value &key);
    void setitem(const ObjectRef &obj, const Value &key, const Value &value);
    std::int64_t len(const ObjectRef &obj);
    std::string repr(const ObjectRef &obj);
    std::string str(const ObjectRef &obj);
    bool isinstance(const ObjectRef &obj, const ObjectRef &type);
    // iter(obj), and next() on it: the next item, or nullopt when it is exhausted.
    ObjectRef iter(const ObjectRef &obj);
    std::optional<Value> next(const ObjectRef &iterator);

    // Stops the interpreter (Interpreter::stop()). Idempotent.
    void stop() { interp_.stop(); }

private:
    Interpreter interp_;
};

}  // namespace pyb
