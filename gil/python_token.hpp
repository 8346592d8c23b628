// pybridge/gil/python_token.hpp — proof, in the type system, that code runs on the
// interpreter thread with the GIL held.
//
// Thread contract: a `Python` token exists only inside work that the interpreter loop
// runs (see interpreter.hpp). Every pybridge function that touches a PyObject takes one.
// Host threads cannot make a token, so they cannot call those functions by mistake.
// (Modelled on PyO3's `Python<'py>` marker.)
//
//   WRONG (does not compile: no way to get a token on a host thread):
//     PyObject *o = pyb::to_python(pyb::Python{}, value);
//   RIGHT:
//     interp.call([&](pyb::Python py) { return pyb::to_python(py, value); });
#pragma once

namespace pyb {

class Interpreter;

class Python {
public:
    Python(const Python &) = default;
    Python &operator=(const Python &) = default;

    // For code that Python itself called on the interpreter thread (a host function, a
    // capsule destructor): the token, after checking that this is the interpreter thread
    // running a call. Throws Error on any other thread, Python's own threads included.
    static Python assume_interpreter_thread();

private:
    friend class Interpreter;
    Python() = default;
};

}  // namespace pyb
