// pybridge/marshal/dlpack_capsule.hpp — DLPack capsules and the `__dlpack__` protocol, as
// consumer: any producer's tensor (torch, numpy, JAX, CuPy, pybridge's own) to a host Tensor.
//
// Spec: https://dmlc.github.io/dlpack/latest/python_spec.html. A capsule is consumed at most
// once: it is renamed "used_dltensor_versioned" / "used_dltensor" the moment ownership is
// taken, and a used capsule is refused with a clear error. Versioned tensors of another
// major version are freed, never read. Legacy (pre-1.0) DLManagedTensors are wrapped so
// the host sees one DLManagedTensorVersioned either way.
//
// Thread contract: interpreter thread only.
#pragma once

#include <Python.h>

#include <cstdint>
#include <optional>

#include "../gil/python_token.hpp"
#include "tensor.hpp"

namespace pyb {

// Takes over the tensor in `capsule` (borrowed; "dltensor_versioned" or legacy "dltensor").
// Throws Error for a used capsule, another kind of capsule, or another major version.
// `is_copied`: set the IS_COPIED flag on the result (the producer made a copy for us).
Tensor tensor_from_capsule(Python, PyObject *capsule, bool is_copied = false);

// Options for asking a producer for a tensor (`__dlpack__` keywords).
struct DLPackRequest {
    // stream: the host's stream, where it will use the data (dlpack_stream.hpp): nullopt is
    // the device's default stream (CUDA's legacy default), -1 asks for no synchronisation.
    // Only producers on devices with streams get it; the result's ready_stream() is it.
    std::optional<std::int64_t> stream;
    // copy: nullopt lets the producer choose; true asks for a copy; false forbids one.
    std::optional<bool> copy;
};

// A host view of `obj`: a capsule of either kind, or any object with `__dlpack__` (through
// its type's C exchange table when it offers one, see dlpack_exchange.hpp; a
// pybridge.DLPackTensor gives its own handle). The request asks for DLPack 1.x
// (max_version=(1, 3)); producers that refuse max_version are asked again without it
// (legacy capsule). Stream handshake (dlpack_stream.hpp): `__dlpack__` gets request.stream
// when `__dlpack_device__` names a device with streams (else None); on the exchange path,
// which never synchronises, pybridge makes request.stream wait for the producer's current
// work stream. A bare capsule carries no stream: the caller orders the work itself.
// Throws PythonError as the producer raises (TypeError: not a DLPack producer;
// BufferError: cannot export), Error for a bad capsule or a stream value the producer's
// device does not allow.
Tensor tensor_from_dlpack(Python, PyObject *obj, const DLPackRequest &request = {});

}  // namespace pyb
