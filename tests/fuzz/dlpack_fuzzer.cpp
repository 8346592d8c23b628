// libFuzzer target: DLPack producers written in Python (tests/support/dlpack_producers.py,
// ctypes capsules and __dlpack__ objects) whose every field comes from the input bytes.
// pybridge must refuse each malformed descriptor with an error naming a field, accept each
// well-formed one with exactly the fields given, and run the producer's deleter exactly
// once either way. An accepted tensor that fits the producer's buffer is read in full
// (AddressSanitizer checks the reads).
//
// Built by the `fuzz` preset beside marshal_fuzzer; `make fuzz` runs both.
#include <bridge/pybridge.hpp>
#include <marshal/dlpack_validate.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

pyb::Interpreter *g_interp = nullptr;  // started once, never destroyed (no static destructor)
PyObject *g_module = nullptr;          // dlpack_producers

[[noreturn]] void finding(const std::string &what) {
    std::fprintf(stderr, "dlpack_fuzzer: %s\n", what.c_str());
    std::abort();
}

PyObject *call(const char *name, PyObject *arg) {
    PyObject *r = PyObject_CallMethod(g_module, name, "O", arg);
    if (!r) {
        PyErr_Print();
        finding(std::string("dlpack_producers.") + name + " failed");
    }
    return r;
}

std::int64_t deleter_calls(std::int64_t id) {
    PyObject *key = PyLong_FromLongLong(id);
    PyObject *n = call("deleter_calls", key);
    Py_DECREF(key);
    const std::int64_t v = PyLong_AsLongLong(n);
    Py_DECREF(n);
    return v;
}

void one_input(pyb::Python py, const std::uint8_t *data, size_t size) {
    PyObject *bytes = PyBytes_FromStringAndSize(reinterpret_cast<const char *>(data), static_cast<Py_ssize_t>(size));
    PyObject *fields = call("fuzz_fields", bytes);
    Py_DECREF(bytes);
    PyObject *extent = call("extent_bytes", fields);
    PyObject *make = PyObject_GetAttrString(g_module, "make");
    PyObject *noargs = PyTuple_New(0);
    PyObject *made = PyObject_Call(make, noargs, fields);  // (id, capsule)
    Py_DECREF(noargs);
    Py_DECREF(make);
    if (!made) {
        PyErr_Print();
        finding("dlpack_producers.make failed");
    }
    const std::int64_t id = PyLong_AsLongLong(PyTuple_GET_ITEM(made, 0));
    PyObject *capsule = PyTuple_GET_ITEM(made, 1);
    try {
        pyb::Tensor t = pyb::tensor_from_dlpack(py, capsule);
        // Accepted: the fields must be what was given, and well-formed.
        const long ndim = PyLong_AsLong(PyDict_GetItemString(fields, "ndim"));
        if (t.ndim() != ndim || ndim < 0 || ndim > pyb::kMaxTensorRank) finding("accepted a bad ndim " + std::to_string(ndim));
        for (std::int64_t e : t.shape())
            if (e < 0) finding("accepted a negative extent");
        if (t.dtype().lanes != 1) finding("accepted lanes != 1");
        // (At most 64 elements: stride-0 layouts address 64 bytes with any element count.)
        if (extent != Py_None && PyLong_AsLongLong(extent) <= 64 && t.numel() > 0 && t.numel() <= 64) {
            // Within the producer's 64-byte buffer: read every element.
            volatile unsigned char sink = 0;
            const auto *base = static_cast<const unsigned char *>(t.data());
            const size_t item = t.dtype().bits / 8;
            std::vector<std::int64_t> index(static_cast<size_t>(t.ndim()), 0);
            for (std::int64_t k = 0; k < t.numel(); ++k) {
                std::int64_t off = 0;
                for (size_t d = 0; d < index.size(); ++d) off += index[d] * t.strides()[d];
                for (size_t b = 0; b < item; ++b) sink = sink ^ base[off * static_cast<std::int64_t>(item) + static_cast<std::int64_t>(b)];
                for (size_t d = index.size(); d-- > 0;) {
                    if (++index[d] < t.shape()[d]) break;
                    index[d] = 0;
                }
            }
        }
        if (deleter_calls(id) != 0) finding("the deleter ran while the tensor was held");
        t = pyb::Tensor();  // dropped on the interpreter thread: the deleter runs now
    } catch (const pyb::Error &e) {
        const std::string what = e.what();
        if (what.find("malformed DLPack tensor") == std::string::npos && what.find("this build reads DLPack") == std::string::npos)
            finding("refused with an unexpected error: " + what);
    }
    if (deleter_calls(id) != 1) finding("the deleter ran " + std::to_string(deleter_calls(id)) + " times");
    Py_DECREF(made);
    Py_DECREF(extent);
    Py_DECREF(fields);
    PyErr_Clear();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    g_interp = new pyb::Interpreter(pyb::InterpreterConfig{});
    g_interp->call([](pyb::Python) {
        PyRun_SimpleString("import sys; sys.path.insert(0, " PYBRIDGE_TEST_SUPPORT_PY ")");
        g_module = PyImport_ImportModule("dlpack_producers");
        if (!g_module) {
            PyErr_Print();
            finding("cannot import dlpack_producers");
        }
    });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, size_t size) {
    g_interp->call([&](pyb::Python py) { one_input(py, data, size); });
    return 0;
}
