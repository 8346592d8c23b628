// pybridge/marshal/tensor_object.hpp — pybridge.DLPackTensor: a host Tensor as a Python
// object any DLPack consumer can take (torch.from_dlpack, numpy.from_dlpack, JAX, CuPy...).
//
// Protocol (Python array API, DLPack >= 1.0):
//   __dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None)
//       max_version >= (1, 0): a "dltensor_versioned" capsule (READ_ONLY / IS_COPIED flags
//       set as they apply); otherwise a legacy "dltensor" capsule. A READ_ONLY tensor
//       cannot go out as a legacy capsule (no flag to carry): copy=None copies it (CPU),
//       copy=False raises BufferError. copy=True copies (CPU tensors; IS_COPIED set).
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
PyObject *tensor_to_dlpack_object(Python, const Tensor &tensor);

// The tensor of a pybridge.DLPackTensor, or null if `obj` is not one.
const Tensor *dlpack_object_tensor(PyObject *obj) noexcept;

// pybridge's own exchange table (the one the type offers).
const DLPackExchangeAPI *pybridge_exchange_api() noexcept;

}  // namespace pyb
