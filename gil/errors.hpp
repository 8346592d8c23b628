// pybridge/gil/errors.hpp — the error types every pybridge call may throw.
//
// Thread contract: plain C++ values (strings only); they may be copied, thrown and
// destroyed on any thread. None of them holds a Python object, so an error that
// leaves the interpreter thread can never touch a refcount without the GIL.
#pragma once

#include <stdexcept>
#include <string>

namespace pyb {

// Base of every pybridge error. what() is a one-line, human-readable message.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The interpreter is not running: it was never started, is stopping, or has stopped.
// Thrown by submit() after stop(), and set on futures whose work was still queued
// when stop() ran (that work never runs).
class InterpreterStopped : public Error {
public:
    using Error::Error;
};

// A Python exception, captured on the interpreter thread as text.
//   type_name(): qualified type name, e.g. "ValueError" or "torch.OutOfMemoryError"
//                (module omitted for builtins).
//   message():   str(exception); "<unprintable ...>" if str() itself raised.
//   traceback(): the full text traceback.format_exception() prints, chained
//                __cause__/__context__ included.
// what() is "<type_name>: <message>".
class PythonError : public Error {
public:
    PythonError(std::string type_name, std::string message, std::string traceback);

    const std::string &type_name() const noexcept { return type_name_; }
    const std::string &message() const noexcept { return message_; }
    const std::string &traceback() const noexcept { return traceback_; }

private:
    std::string type_name_;
    std::string message_;
    std::string traceback_;
};

}  // namespace pyb
