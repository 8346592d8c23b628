#include "dlpack_stream.hpp"

#include <Python.h>

#include <string>

#include "../gil/errors.hpp"
#include "../gil/python_error.hpp"
#include "py_ref.hpp"

namespace pyb::dlpack {
namespace {

bool is_cuda_like(DLDeviceType t) noexcept {
    return t == kDLCUDA || t == kDLCUDAHost || t == kDLCUDAManaged;
}
bool is_rocm_like(DLDeviceType t) noexcept { return t == kDLROCM || t == kDLROCMHost; }

[[noreturn]] void refuse(DLDevice device, std::int64_t value, const char *why) {
    throw Error("pybridge: stream " + std::to_string(value) + " is not valid for a tensor on " + device_name(device) +
                ": " + why);
}

// A new reference to pybridge.streams.<name>, looked up each time so tests can replace it.
PyObject *streams_function(Python py, const char *name) {
    PyRef module(py, PyImport_ImportModule("pybridge.streams"));
    return PyRef(py, PyObject_GetAttrString(module.p, name)).release();
}

}  // namespace

bool has_streams(DLDeviceType type) noexcept { return is_cuda_like(type) || is_rocm_like(type); }

std::int64_t resolve_stream(DLDevice device, StreamArg arg) {
    const DLDeviceType type = device.device_type;
    if (!arg) return is_rocm_like(type) ? 0 : has_streams(type) ? 1 : kNoSync;
    const std::int64_t s = *arg;
    if (s == kNoSync) return kNoSync;
    if (s < kNoSync) refuse(device, s, "stream handles are -1, None or non-negative");
    if (!has_streams(type)) refuse(device, s, "this device has no streams pybridge can synchronise (use None or -1)");
    if (is_cuda_like(type) && s == 0)
        refuse(device, s, "0 is ambiguous on CUDA (use 1 for the legacy default stream, 2 for the per-thread one)");
    if (is_rocm_like(type) && (s == 1 || s == 2)) refuse(device, s, "1 and 2 are CUDA's default streams, not ROCm's");
    return s;
}

StreamSync plan_stream_sync(DLDevice device, StreamArg producer, StreamArg consumer) {
    StreamSync plan;
    plan.consumer = resolve_stream(device, consumer);
    plan.producer = resolve_stream(device, producer);
    plan.wait = plan.consumer != kNoSync && plan.producer != kNoSync && plan.producer != plan.consumer;
    return plan;
}

void synchronize(Python py, DLDevice device, const StreamSync &plan) {
    if (!plan.wait) return;
    PyRef wait(py, streams_function(py, "wait_stream"));
    PyRef r(py, PyObject_CallFunction(wait.p, "iiLL", static_cast<int>(device.device_type),
                                      static_cast<int>(device.device_id), static_cast<long long>(plan.producer),
                                      static_cast<long long>(plan.consumer)));
}

StreamArg work_stream(Python py, const DLPackExchangeAPI &api, DLDevice device) {
    if (!has_streams(device.device_type) || !api.current_work_stream) return std::nullopt;
    void *stream = nullptr;
    if (api.current_work_stream(device.device_type, device.device_id, &stream) != 0) throw_python_error(py);
    if (!stream) return std::nullopt;  // the NULL stream: the default stream
    return static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(stream));
}

StreamArg torch_current_stream(Python py, DLDevice device) {
    if (!has_streams(device.device_type)) return std::nullopt;
    PyRef current(py, streams_function(py, "current_stream"));
    PyRef r(py, PyObject_CallFunction(current.p, "ii", static_cast<int>(device.device_type),
                                      static_cast<int>(device.device_id)));
    const long long s = PyLong_AsLongLong(r.p);
    if (s == -1 && PyErr_Occurred()) throw_python_error(py);
    return s;
}

}  // namespace pyb::dlpack
