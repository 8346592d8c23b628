#include "output.hpp"

#include <Python.h>

#include <cstdio>
#include <exception>

#include "python_error.hpp"

namespace pyb::detail::output {
namespace {

const OutputSink *g_sink = nullptr;  // read and written with the GIL held

// UTF-8 of a str (lone surrogates backslash-escaped); a new reference, or null with an error.
PyObject *utf8_of(PyObject *text) { return PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace"); }

std::FILE *c_stream(long source) { return source == 0 ? stdout : stderr; }

// _host_write(source, level, name, text)
PyObject *host_write(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyUnicode_Check(args[2]) || !PyUnicode_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "_host_write(source: int, level: int, name: str, text: str)");
        return nullptr;
    }
    const long source = PyLong_AsLong(args[0]);
    const long level = PyLong_AsLong(args[1]);
    if (PyErr_Occurred()) return nullptr;
    PyObject *bytes = utf8_of(args[3]);
    if (!bytes) return nullptr;
    const std::string_view text(PyBytes_AS_STRING(bytes), static_cast<size_t>(PyBytes_GET_SIZE(bytes)));
    if (const OutputSink *sink = g_sink) {
        Py_ssize_t name_size = 0;
        const char *name = PyUnicode_AsUTF8AndSize(args[2], &name_size);
        if (!name) {
            Py_DECREF(bytes);
            return nullptr;
        }
        const OutputRecord record{static_cast<OutputSource>(source < 0 || source > 3 ? 1 : source),
                                  static_cast<int>(level), std::string_view(name, static_cast<size_t>(name_size)),
                                  text};
        try {
            (*sink)(record);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "pybridge: the output sink threw: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "pybridge: the output sink threw\n");
        }
    } else {
        std::FILE *stream = c_stream(source);
        Py_BEGIN_ALLOW_THREADS  // a full pipe must not stall Python's other threads
        std::fwrite(text.data(), 1, text.size(), stream);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(bytes);
    Py_RETURN_NONE;
}

// _host_flush(source)
PyObject *host_flush(PyObject *, PyObject *source) {
    const long s = PyLong_AsLong(source);
    if (s == -1 && PyErr_Occurred()) return nullptr;
    std::FILE *stream = c_stream(s);
    Py_BEGIN_ALLOW_THREADS
    std::fflush(stream);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyMethodDef g_write_def = {"_host_write", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&host_write)),
                           METH_FASTCALL, "Writes Python output to the host (pybridge internal)."};
PyMethodDef g_flush_def = {"_host_flush", &host_flush, METH_O, "Flushes the host's C stream (pybridge internal)."};

}  // namespace

void install(Python py, const InterpreterConfig &config) {
    PyObject *module = PyImport_ImportModule("pybridge.output");
    if (!module) {
        if (PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {  // pybridge's package is not on sys.path
            PyErr_Clear();
            return;
        }
        throw_python_error(py);
    }
    PyObject *write = PyCFunction_New(&g_write_def, nullptr);
    PyObject *flush = PyCFunction_New(&g_flush_def, nullptr);
    PyObject *r = write && flush ? PyObject_CallMethod(module, "install", "OOO", write, flush,
                                                      config.output_sink ? Py_True : Py_False)
                                 : nullptr;
    Py_XDECREF(write);
    Py_XDECREF(flush);
    Py_DECREF(module);
    if (!r) throw_python_error(py);
    Py_DECREF(r);
    g_sink = config.output_sink ? &config.output_sink : nullptr;
}

void uninstall() noexcept { g_sink = nullptr; }

}  // namespace pyb::detail::output
