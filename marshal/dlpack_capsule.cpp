#include "dlpack_capsule.hpp"

#include <memory>
#include <string>

#include "../gil/python_error.hpp"
#include "dlpack_exchange.hpp"
#include "dlpack_stream.hpp"
#include "py_ref.hpp"
#include "tensor_object.hpp"
#include "tensor_python.hpp"

namespace pyb {
namespace {

constexpr const char *kVersioned = "dltensor_versioned", *kUsedVersioned = "used_dltensor_versioned";
constexpr const char *kLegacy = "dltensor", *kUsedLegacy = "used_dltensor";

// A legacy DLManagedTensor seen as a versioned one: the shim owns it and runs its deleter.
struct LegacyShim {
    DLManagedTensorVersioned versioned{};
    DLManagedTensor *legacy;
    static void deleter(DLManagedTensorVersioned *self) {
        auto *shim = static_cast<LegacyShim *>(self->manager_ctx);
        if (shim->legacy->deleter) shim->legacy->deleter(shim->legacy);
        delete shim;
    }
};

DLManagedTensorVersioned *wrap_legacy(DLManagedTensor *legacy) {
    auto shim = std::make_unique<LegacyShim>();
    shim->legacy = legacy;
    DLManagedTensorVersioned &v = shim->versioned;
    v.version = {0, 0};  // pre-1.0 producer; the descriptor is read the same way
    v.manager_ctx = shim.get();
    v.deleter = &LegacyShim::deleter;
    v.dl_tensor = legacy->dl_tensor;
    return &shim.release()->versioned;
}

// obj.__dlpack_device__() as a DLDevice; nullopt if obj has no such method (producers
// before the array API). Throws PythonError if it fails otherwise or returns no pair.
std::optional<DLDevice> producer_device(Python py, PyObject *obj) {
    PyRef method(PyObject_GetAttrString(obj, "__dlpack_device__"));
    if (!method.p) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) throw_python_error(py);
        PyErr_Clear();
        return std::nullopt;
    }
    PyRef pair(py, PyObject_CallNoArgs(method.p));
    int type = 0, id = 0;
    if (!PyArg_ParseTuple(pair.p, "ii:__dlpack_device__", &type, &id)) throw_python_error(py);
    return DLDevice{static_cast<DLDeviceType>(type), id};
}

// Spec: a consumer must not read a tensor of another major version, only free it.
void check_major_version(DLManagedTensorVersioned *m) {
    if (m->version.major == DLPACK_MAJOR_VERSION) return;
    const std::string made = std::to_string(m->version.major) + "." + std::to_string(m->version.minor);
    if (m->deleter) m->deleter(m);
    throw Error("pybridge: the producer made a DLPack " + made + " tensor; this build reads DLPack " +
                std::to_string(DLPACK_MAJOR_VERSION) + ".x");
}

std::string capsule_name(PyObject *capsule) {
    const char *name = PyCapsule_GetName(capsule);
    PyErr_Clear();
    return name ? std::string("\"") + name + "\"" : std::string("an unnamed capsule");
}

}  // namespace

Tensor tensor_from_capsule(Python py, PyObject *capsule, bool is_copied) {
    if (!PyCapsule_CheckExact(capsule)) throw Error("pybridge: expected a DLPack capsule, got a Python object");
    DLManagedTensorVersioned *m = nullptr;
    if (PyCapsule_IsValid(capsule, kVersioned)) {
        m = static_cast<DLManagedTensorVersioned *>(PyCapsule_GetPointer(capsule, kVersioned));
        if (!m || PyCapsule_SetName(capsule, kUsedVersioned) != 0) throw_python_error(py);
        check_major_version(m);
    } else if (PyCapsule_IsValid(capsule, kLegacy)) {
        auto *legacy = static_cast<DLManagedTensor *>(PyCapsule_GetPointer(capsule, kLegacy));
        if (!legacy || PyCapsule_SetName(capsule, kUsedLegacy) != 0) throw_python_error(py);
        try {
            m = wrap_legacy(legacy);
        } catch (...) {
            if (legacy->deleter) legacy->deleter(legacy);
            throw;
        }
    } else {
        const std::string name = capsule_name(capsule);
        if (name == "\"used_dltensor_versioned\"" || name == "\"used_dltensor\"")
            throw Error("pybridge: this DLPack capsule was already consumed (" + name + "); a capsule gives its tensor once");
        throw Error("pybridge: expected a DLPack capsule (\"dltensor_versioned\" or \"dltensor\"), got " + name);
    }
    if (is_copied) m->flags |= DLPACK_FLAG_BITMASK_IS_COPIED;
    return Tensor::adopt(m, /*deleter_needs_gil=*/true);
}

Tensor tensor_from_dlpack(Python py, PyObject *obj, const DLPackRequest &request) {
    if (PyCapsule_CheckExact(obj)) return tensor_from_capsule(py, obj);
    if (!request.copy) {
        // pybridge's own tensor: the host handle itself, after the stream handshake.
        if (const Tensor *own = dlpack_object_tensor(obj)) {
            dlpack::synchronize(py, own->device(), dlpack::plan_stream_sync(own->device(), own->ready_stream(), request.stream));
            return dlpack::has_streams(own->device().device_type) ? own->on_stream(request.stream) : *own;
        }
        // The fast way: the producer type's C exchange table (no Python call, no capsule).
        // It never synchronises streams: the handshake is done here, with the producer's
        // current work stream. torch's table exports lazily conjugated/negated tensors
        // unflagged: torch tensors take the path that checks for those (tensor_python.hpp).
        if (dlpack::exchange_api_enabled() && is_torch_tensor(py, obj)) return tensor_from_python(py, obj, request.stream);
        if (const DLPackExchangeAPI *api = dlpack::exchange_api_of(py, Py_TYPE(obj))) {
            DLManagedTensorVersioned *m = nullptr;
            if (api->managed_tensor_from_py_object_no_sync(obj, &m) != 0 || !m) throw_python_error(py);
            check_major_version(m);
            Tensor t = Tensor::adopt(m, /*deleter_needs_gil=*/true);
            const DLDevice device = t.device();
            if (!dlpack::has_streams(device.device_type)) return t;
            dlpack::synchronize(py, device, dlpack::plan_stream_sync(device, dlpack::work_stream(py, *api, device), request.stream));
            return t.on_stream(request.stream);
        }
    }
    // The protocol: a stream goes only to a device that has streams (a CPU producer must
    // get None), so __dlpack_device__ is asked first when there is a stream to pass.
    const std::optional<DLDevice> device = request.stream ? producer_device(py, obj) : std::nullopt;
    const bool pass_stream = device && dlpack::has_streams(device->device_type);
    if (pass_stream) dlpack::resolve_stream(*device, request.stream);  // a clear error before the producer's
    PyRef method(PyObject_GetAttrString(obj, "__dlpack__"));
    if (!method.p) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) throw_python_error(py);
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "pybridge: %s is not a DLPack producer (no __dlpack__ method)",
                     Py_TYPE(obj)->tp_name);
        throw_python_error(py);
    }
    PyRef kwargs(PyDict_New());
    PyRef version(Py_BuildValue("(ii)", DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION));
    PyRef stream(pass_stream && request.stream ? PyLong_FromLongLong(*request.stream) : (Py_INCREF(Py_None), Py_None));
    if (!kwargs.p || !version.p || !stream.p || PyDict_SetItemString(kwargs.p, "max_version", version.p) != 0 ||
        PyDict_SetItemString(kwargs.p, "stream", stream.p) != 0 ||
        (request.copy && PyDict_SetItemString(kwargs.p, "copy", *request.copy ? Py_True : Py_False) != 0))
        throw_python_error(py);
    PyRef noargs(PyTuple_New(0));
    if (!noargs.p) throw_python_error(py);
    PyRef capsule(PyObject_Call(method.p, noargs.p, kwargs.p));
    if (!capsule.p && PyErr_ExceptionMatches(PyExc_TypeError)) {
        // A producer older than DLPack 1.0 does not know max_version: ask for a legacy capsule.
        PyErr_Clear();
        if (PyDict_DelItemString(kwargs.p, "max_version") != 0) throw_python_error(py);
        capsule.reset(PyObject_Call(method.p, noargs.p, kwargs.p));
    }
    if (!capsule.p) throw_python_error(py);
    Tensor t = tensor_from_capsule(py, capsule.p, request.copy.value_or(false));
    return dlpack::has_streams(t.device().device_type) ? t.on_stream(request.stream) : t;
}

}  // namespace pyb
