// pybridge/marshal/tensor_object.hpp — pybridge.DLPackTensor: a host Tensor as a Python
// object any DLPack consumer can take (torch.from_dlpack, numpy.from_dlpack, JAX, CuPy...).
//
// Protocol (Python array API, DLPack >= 1.0):
//   __dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None)
//       max_version >= (1, 0): a "dltensor_versioned" capsule (IS_COPIED set when the
//       data is a copy); otherwise a legacy "dltensor" capsule. copy=True copies (CPU
//       tensors; IS_COPIED set).
//       dl_device other than the tensor's own: BufferError. stream: None or -1 for CPU
//       tensors (anything else: ValueError); for CUDA tensors see stream.hpp.
//   __dlpack_device__() -> (device_type, device_id)
//   type attribute __dlpack_c_exchange_api__: a "dlpack_exchange_api" capsule of
//       pybridge's DLPackExchangeAPI table (DLPack 1.3), so consumers convert with no
//       Python-level call.
// Also: .shape (tuple), .dtype (str, "float32"), .device (str, "cpu"), repr.
//
// Thread contract: interpreter thread only. The object keeps the host tensor alive.
#pragma once

#include <Python.h>

#include "../gil/python_token.hpp"
#include "tensor.hpp"

namespace pyb {

// A new reference to a pybridge.DLPackTensor over `tensor` (no copy).
// A READ_ONLY tensor follows read_only_policy() (tensor.hpp), because consumers ignore the
// flag (torch.from_dlpack gives a writable tensor): under Copy the object holds a copy made
// here, once (one memcpy of the tensor's bytes for a compact tensor, element by element for
// a strided one; CPU only, Error on other devices), and every export of it says IS_COPIED;
// under Refuse this throws Error naming the policy. No consumer reaches the host memory.
PyObject *tensor_to_dlpack_object(Python, const Tensor &tensor);

// The tensor of a pybridge.DLPackTensor, or null if `obj` is not one.
const Tensor *dlpack_object_tensor(PyObject *obj) noexcept;

// pybridge's own exchange table (the one the type offers).
const DLPackExchangeAPI *pybridge_exchange_api() noexcept;

}  // namespace pyb
