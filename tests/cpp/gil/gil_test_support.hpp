// Support for the gil/ tests: one shared Interpreter (CPython starts once per process),
// started with SIGINT routing and an error sink, and tiny helpers over the C API. These
// tests use only gil/ (no marshal, no torch), so they also run under ThreadSanitizer.
#pragma once

#include <Python.h>
#include <gtest/gtest.h>

#include <gil/interpreter.hpp>
#include <gil/python_error.hpp>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gil_test {

pyb::Interpreter &interp();

// Messages the error sink received (post() failures), oldest first.
std::vector<std::string> sink_messages();

// Runs `source` in __main__ (exec). Interpreter thread.
inline void exec(pyb::Python py, const std::string &source) {
    PyObject *main = PyImport_AddModule("__main__");
    PyObject *globals = PyModule_GetDict(main);
    PyObject *r = PyRun_String(source.c_str(), Py_file_input, globals, globals);
    if (!r) pyb::throw_python_error(py);
    Py_DECREF(r);
}

// Evaluates `expr` in __main__ and returns it as a C long. Interpreter thread.
inline long eval_long(pyb::Python py, const std::string &expr) {
    PyObject *main = PyImport_AddModule("__main__");
    PyObject *globals = PyModule_GetDict(main);
    PyObject *r = PyRun_String(expr.c_str(), Py_eval_input, globals, globals);
    if (!r) pyb::throw_python_error(py);
    const long v = PyLong_AsLong(r);
    Py_DECREF(r);
    if (v == -1 && PyErr_Occurred()) pyb::throw_python_error(py);
    return v;
}

// Host-side conveniences.
inline void exec(const std::string &source) {
    interp().call([source](pyb::Python py) { exec(py, source); });
}
inline long eval_long(const std::string &expr) {
    return interp().call([expr](pyb::Python py) { return eval_long(py, expr); });
}

// Polls `done` every millisecond until it holds (true) or `limit` passes (false): for
// conditions another thread brings about, on however loaded a machine.
template <class Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// Fails the test (instead of hanging CI) if `future` is not ready within `limit`.
template <class T>
void expect_ready_within(const pyb::Future<T> &future, std::chrono::milliseconds limit, const char *what) {
    if (!future.wait_for(limit)) {
        ADD_FAILURE() << what << ": not finished after " << limit.count() << " ms (deadlock?)";
        std::fprintf(stderr, "watchdog: %s did not finish; aborting instead of hanging\n", what);
        std::_Exit(3);
    }
}

}  // namespace gil_test
