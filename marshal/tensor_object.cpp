#include "tensor_object.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "../gil/native_module.hpp"
#include "../gil/python_error.hpp"
#include "dlpack_lend.hpp"
#include "dlpack_stream.hpp"
#include "py_ref.hpp"
#include "python_exports.hpp"

namespace pyb {
namespace {

struct TensorObject;
// Links the object into the exports stop gives back (python_exports.hpp).
struct ObjectExport : detail::PythonExport {
    TensorObject *owner;
};

struct TensorObject {
    PyObject_HEAD
    Tensor tensor;  // empty once stop gave the host memory back
    bool copied;    // `tensor` is pybridge's copy of a read-only host tensor (IS_COPIED)
    ObjectExport link;
};

void give_back_tensor(detail::PythonExport *e) { static_cast<ObjectExport *>(e)->owner->tensor = Tensor(); }

// The object's tensor, or null with a Python error set (stop gave the memory back: only
// a Python thread still running after stop() can see that).
const Tensor *live_tensor(PyObject *self) {
    const Tensor &t = reinterpret_cast<TensorObject *>(self)->tensor;
    if (t) return &t;
    PyErr_SetString(PyExc_BufferError, "pybridge: this tensor's host memory was given back when the interpreter stopped");
    return nullptr;
}

std::uint64_t export_flags(const TensorObject *o) { return o->copied ? DLPACK_FLAG_BITMASK_IS_COPIED : 0; }

PyTypeObject *g_type = nullptr;

// A compact CPU copy of `t` (any strides), owning its memory.
Tensor copy_of(const Tensor &t) {
    if (t.device().device_type != kDLCPU) throw Error("pybridge: only CPU tensors can be copied by pybridge");
    const size_t item = t.dtype().bits / 8;
    const auto n = static_cast<size_t>(t.numel());
    void *dst = std::malloc(n > 0 ? n * item : 1);
    if (!dst) throw std::bad_alloc();
    const auto *src = static_cast<const char *>(t.data());
    if (t.is_contiguous()) {
        if (n > 0) std::memcpy(dst, src, n * item);
        return Tensor::from_buffer(dst, t.shape(), t.dtype(), {}, [dst] { std::free(dst); });
    }
    std::vector<std::int64_t> index(t.shape().size(), 0);
    for (size_t k = 0; k < n; ++k) {
        std::int64_t offset = 0;
        for (size_t d = 0; d < index.size(); ++d) offset += index[d] * t.strides()[d];
        std::memcpy(static_cast<char *>(dst) + k * item, src + offset * static_cast<std::int64_t>(item), item);
        for (size_t d = index.size(); d-- > 0;) {  // next index, row-major
            if (++index[d] < t.shape()[d]) break;
            index[d] = 0;
        }
    }
    return Tensor::from_buffer(dst, t.shape(), t.dtype(), {}, [dst] { std::free(dst); });
}

// Parses __dlpack__'s keywords; false with a Python error set.
struct Request {
    PyObject *stream = Py_None, *max_version = Py_None, *dl_device = Py_None, *copy = Py_None;
};

bool parse(PyObject *args, PyObject *kwargs, Request &r) {
    static const char *names[] = {"stream", "max_version", "dl_device", "copy", nullptr};
    return PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOO:__dlpack__", const_cast<char **>(names), &r.stream,
                                       &r.max_version, &r.dl_device, &r.copy) != 0;
}

PyObject *dlpack(PyObject *self, PyObject *args, PyObject *kwargs) {
    const Python py = Python::assume_interpreter_thread();
    Request r;
    if (!parse(args, kwargs, r)) return nullptr;
    try {
        const auto *obj = reinterpret_cast<TensorObject *>(self);
        if (!live_tensor(self)) return nullptr;
        const Tensor &t = obj->tensor;
        const DLDevice dev = t.device();
        if (r.dl_device != Py_None) {
            int type = 0, id = 0;
            if (!PyArg_ParseTuple(r.dl_device, "ii:dl_device", &type, &id)) return nullptr;
            if (type != dev.device_type || id != dev.device_id) {
                PyErr_Format(PyExc_BufferError, "pybridge: tensor is on %s; it cannot be exported to device (%d, %d)",
                             device_name(dev).c_str(), type, id);
                return nullptr;
            }
        }
        // The stream handshake (dlpack_stream.hpp): the consumer's stream waits for the
        // host's ready stream. Done before the copy below too: the copy reads the data.
        dlpack::StreamArg stream;
        if (r.stream != Py_None) {
            if (!PyLong_Check(r.stream)) {
                PyErr_Format(PyExc_TypeError, "pybridge: __dlpack__ stream must be an int or None, not %s",
                             Py_TYPE(r.stream)->tp_name);
                return nullptr;
            }
            stream = PyLong_AsLongLong(r.stream);
            if (*stream == -1 && PyErr_Occurred()) return nullptr;
        }
        dlpack::StreamSync plan;
        try {
            plan = dlpack::plan_stream_sync(dev, t.ready_stream(), stream);
        } catch (const Error &e) {
            PyErr_SetString(PyExc_ValueError, e.what());
            return nullptr;
        }
        dlpack::synchronize(py, dev, plan);
        bool versioned = false;
        if (r.max_version != Py_None) {
            int major = 0, minor = 0;
            if (!PyArg_ParseTuple(r.max_version, "ii:max_version", &major, &minor)) return nullptr;
            versioned = major >= 1;
        }
        const int copy = r.copy == Py_None ? 2 : PyObject_IsTrue(r.copy);  // 2: producer's choice
        if (copy < 0) return nullptr;
        // A read-only host tensor never gets here: tensor_to_dlpack_object copied it (or
        // refused), since consumers such as torch ignore the READ_ONLY flag.
        if (copy == 1) {
            const Tensor c = copy_of(t);
            if (versioned) return detail::versioned_capsule(py, detail::lend_versioned(c, DLPACK_FLAG_BITMASK_IS_COPIED));
            return detail::legacy_capsule(py, detail::lend_legacy(c));
        }
        if (versioned) return detail::versioned_capsule(py, detail::lend_versioned(t, export_flags(obj)));
        return detail::legacy_capsule(py, detail::lend_legacy(t));
    } catch (const PythonError &e) {
        // The stream handshake or capsule creation failed: raise the same exception again.
        if (PyObject *exc = e.exception().get(py)) {
            PyErr_SetObject(reinterpret_cast<PyObject *>(Py_TYPE(exc)), exc);
        } else {
            PyErr_SetString(PyExc_RuntimeError, e.what());
        }
    } catch (const Error &e) {
        PyErr_SetString(PyExc_BufferError, e.what());
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
    }
    return nullptr;
}

PyObject *dlpack_device(PyObject *self, PyObject *) {
    const Tensor *t = live_tensor(self);
    if (!t) return nullptr;
    const DLDevice d = t->device();
    return Py_BuildValue("(ii)", static_cast<int>(d.device_type), static_cast<int>(d.device_id));
}

PyObject *get_shape(PyObject *self, void *) {
    const Tensor *live = live_tensor(self);
    if (!live) return nullptr;
    const auto shape = live->shape();
    PyObject *t = PyTuple_New(static_cast<Py_ssize_t>(shape.size()));
    for (size_t i = 0; t && i < shape.size(); ++i) {
        PyObject *e = PyLong_FromLongLong(shape[i]);
        if (!e) {
            Py_DECREF(t);
            return nullptr;
        }
        PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), e);
    }
    return t;
}
PyObject *get_dtype(PyObject *self, void *) {
    const Tensor *t = live_tensor(self);
    return t ? PyUnicode_FromString(dtype_name(t->dtype()).c_str()) : nullptr;
}
PyObject *get_device(PyObject *self, void *) {
    const Tensor *t = live_tensor(self);
    return t ? PyUnicode_FromString(device_name(t->device()).c_str()) : nullptr;
}
PyObject *repr(PyObject *self) {
    const Tensor &t = reinterpret_cast<TensorObject *>(self)->tensor;
    return PyUnicode_FromFormat("pybridge.DLPackTensor(%s)", t ? t.describe().c_str() : "released at stop");
}

void dealloc(PyObject *self) {
    auto *obj = reinterpret_cast<TensorObject *>(self);
    detail::unlink_export(obj->link);
    obj->link.~ObjectExport();
    obj->tensor.~Tensor();
    PyTypeObject *type = Py_TYPE(self);
    type->tp_free(self);
    Py_DECREF(type);  // heap type
}

PyMethodDef g_methods[] = {
    {"__dlpack__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&dlpack)), METH_VARARGS | METH_KEYWORDS,
     "A DLPack capsule of this tensor (array API __dlpack__)."},
    {"__dlpack_device__", &dlpack_device, METH_NOARGS, "(device_type, device_id) of this tensor."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef g_getset[] = {{"shape", &get_shape, nullptr, "shape, a tuple of ints", nullptr},
                          {"dtype", &get_dtype, nullptr, "dtype name, e.g. 'float32'", nullptr},
                          {"device", &get_device, nullptr, "device name, e.g. 'cpu'", nullptr},
                          {nullptr, nullptr, nullptr, nullptr, nullptr}};

// --- The exchange table (DLPack 1.3 DLPackExchangeAPI). C functions: nothing may throw.

int allocate(DLTensor *prototype, DLManagedTensorVersioned **out, void *error_ctx,
             void (*set_error)(void *, const char *, const char *)) {
    try {
        if (prototype->device.device_type != kDLCPU) {
            set_error(error_ctx, "BufferError", "pybridge allocates CPU tensors only");
            return -1;
        }
        std::int64_t n = 1;
        for (int i = 0; i < prototype->ndim; ++i) n *= prototype->shape[i];
        const size_t bytes = static_cast<size_t>(n) * ((prototype->dtype.bits + 7) / 8);
        void *mem = std::malloc(bytes ? bytes : 1);
        if (!mem) {
            set_error(error_ctx, "MemoryError", "pybridge: out of memory");
            return -1;
        }
        Tensor t = Tensor::from_buffer(mem, std::vector<std::int64_t>(prototype->shape, prototype->shape + prototype->ndim),
                                       prototype->dtype, {}, [mem] { std::free(mem); });
        *out = detail::lend_versioned(t, 0);
        return 0;
    } catch (const std::exception &e) {
        set_error(error_ctx, "RuntimeError", e.what());
        return -1;
    }
}

int from_py_object(void *obj, DLManagedTensorVersioned **out) {
    const Tensor *t = dlpack_object_tensor(static_cast<PyObject *>(obj));
    if (!t) {
        PyErr_SetString(PyExc_TypeError, "pybridge: not a pybridge.DLPackTensor");
        return -1;
    }
    if (!live_tensor(static_cast<PyObject *>(obj))) return -1;
    try {
        *out = detail::lend_versioned(*t, export_flags(reinterpret_cast<const TensorObject *>(obj)));
        return 0;
    } catch (...) {
        PyErr_NoMemory();
        return -1;
    }
}

int to_py_object(DLManagedTensorVersioned *managed, void **out) {
    try {
        const Tensor t = Tensor::adopt(managed, /*deleter_needs_gil=*/true);
        *out = tensor_to_dlpack_object(Python::assume_interpreter_thread(), t);
        return 0;
    } catch (const std::exception &e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
        return -1;
    }
}

int dltensor_from_py_object(void *obj, DLTensor *out) {
    const Tensor *t = dlpack_object_tensor(static_cast<PyObject *>(obj));
    if (!t) {
        PyErr_SetString(PyExc_TypeError, "pybridge: not a pybridge.DLPackTensor");
        return -1;
    }
    if (!live_tensor(static_cast<PyObject *>(obj))) return -1;
    *out = t->dl();
    out->strides = const_cast<std::int64_t *>(t->strides().data());
    return 0;
}

int current_work_stream(DLDeviceType, int32_t, void **out) {
    *out = nullptr;  // pybridge launches no work of its own: the legacy default stream
    return 0;
}

const DLPackExchangeAPI g_exchange = {
    {{DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION}, nullptr},
    &allocate, &from_py_object, &to_py_object, &dltensor_from_py_object, &current_work_stream};

PyTypeObject *tensor_type(Python py) {
    if (g_type) return g_type;
    PyType_Slot slots[] = {{Py_tp_dealloc, reinterpret_cast<void *>(&dealloc)},
                           {Py_tp_repr, reinterpret_cast<void *>(&repr)},
                           {Py_tp_methods, g_methods},
                           {Py_tp_getset, g_getset},
                           {Py_tp_doc, const_cast<char *>("A host tensor lent to Python through DLPack.")},
                           {0, nullptr}};
    PyType_Spec spec = {"pybridge.DLPackTensor", sizeof(TensorObject), 0, Py_TPFLAGS_DEFAULT, slots};
    PyRef type(py, PyType_FromSpec(&spec));
    PyRef api(py, PyCapsule_New(const_cast<DLPackExchangeAPI *>(&g_exchange), "dlpack_exchange_api", nullptr));
    if (PyObject_SetAttrString(type.p, "__dlpack_c_exchange_api__", api.p) != 0) throw_python_error(py);
    g_type = reinterpret_cast<PyTypeObject *>(type.release());  // kept for the process
    publish_native_type("DLPackTensor", reinterpret_cast<PyObject *>(g_type));
    return g_type;
}

}  // namespace

PyObject *tensor_to_dlpack_object(Python py, const Tensor &tensor) {
    if (!tensor) throw Error("pybridge: empty Tensor handle");
    const bool copy = tensor.read_only();
    if (copy && read_only_policy() == ReadOnlyPolicy::Refuse) {
        throw Error("pybridge: tensor " + tensor.describe() +
                    " is read-only and ReadOnlyPolicy::Refuse forbids exporting it: DLPack consumers such as "
                    "torch ignore the READ_ONLY flag and would write into it; pass a writable tensor, or set "
                    "ReadOnlyPolicy::Copy to export a copy");
    }
    // Under Copy, one copy made here serves every consumer of this object (capsules, the
    // exchange table, torch, numpy): the host memory is never reachable from Python.
    Tensor held = copy ? copy_of(tensor) : tensor;
    PyTypeObject *type = tensor_type(py);
    PyObject *self = type->tp_alloc(type, 0);
    if (!self) throw_python_error(py);
    auto *obj = reinterpret_cast<TensorObject *>(self);
    new (&obj->tensor) Tensor(std::move(held));
    obj->copied = copy;
    new (&obj->link) ObjectExport();
    obj->link.owner = obj;
    obj->link.give_back = &give_back_tensor;
    try {
        detail::link_export(obj->link);
    } catch (...) {
        Py_DECREF(self);  // dealloc unlinks nothing and frees the tensor
        throw;
    }
    return self;
}

const Tensor *dlpack_object_tensor(PyObject *obj) noexcept {
    if (!g_type || !obj || Py_TYPE(obj) != g_type) return nullptr;
    return &reinterpret_cast<TensorObject *>(obj)->tensor;
}

const DLPackExchangeAPI *pybridge_exchange_api() noexcept { return &g_exchange; }

}  // namespace pyb
