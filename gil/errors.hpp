// pybridge/gil/errors.hpp — the error types every pybridge call may throw.
//
// Thread contract: they may be copied, thrown and destroyed on any thread. Apart from
// PythonError::exception() — an ObjectRef, whose release is routed to the interpreter
// thread — they hold only strings, so an error leaving the interpreter thread never touches
// a refcount without the GIL.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "object_ref.hpp"

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

// The call was cancelled (Future::cancel()): either it never ran, or an exception was
// raised into its Python code at the next bytecode boundary and it stopped there.
class Cancelled : public Error {
public:
    using Error::Error;
};

// The call's deadline passed: like Cancelled, at the deadline instead of on request.
class DeadlineExceeded : public Cancelled {
public:
    using Cancelled::Cancelled;
};

// Waiting on the interpreter thread for a call that can only run after the current one
// returns: it would never finish, so it fails at once.
class WouldDeadlock : public Error {
public:
    using Error::Error;
};

// A Python exception, captured on the interpreter thread as text.
//   type_name(): qualified type name, e.g. "ValueError" or "torch.OutOfMemoryError"
//                (module omitted for builtins).
//   message():   str(exception); "<exception str() failed>" if str() itself raised.
//   traceback(): the full text traceback.format_exception() prints, chained
//                __cause__/__context__ included.
//   exception(): the exception object itself, to read its attributes (a handle: safe to
//                copy and drop on any thread; empty if it could not be kept).
//   exit_code(): for SystemExit, the status Python would have exited with (sys.exit(3)
//                -> 3, sys.exit() -> 0, sys.exit("msg") -> 1); empty otherwise. The host
//                process is never exited: what to do with the code is the host's choice.
// what() is "<type_name>: <message>".
class PythonError : public Error {
public:
    PythonError(std::string type_name, std::string message, std::string traceback,
                std::optional<int> exit_code = std::nullopt, ObjectRef exception = {});

    const std::string &type_name() const noexcept { return type_name_; }
    const std::string &message() const noexcept { return message_; }
    const std::string &traceback() const noexcept { return traceback_; }
    std::optional<int> exit_code() const noexcept { return exit_code_; }
    const ObjectRef &exception() const noexcept { return exception_; }

private:
    std::string type_name_;
    std::string message_;
    std::string traceback_;
    std::optional<int> exit_code_;
    ObjectRef exception_;
};

}  // namespace pyb
