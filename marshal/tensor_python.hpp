// pybridge/marshal/tensor_python.hpp — Tensor <-> torch.Tensor through DLPack capsules.
//
// Host -> Python: the host tensor is lent, not copied: a DLManagedTensorVersioned that
// keeps the host Tensor alive is wrapped in a "dltensor_versioned" capsule and imported
// with torch's DLPack importer; byte_offset is folded into the data pointer.
// Python -> host: torch exports a versioned capsule, which is renamed
// "used_dltensor_versioned" as ownership is taken; the host Tensor runs torch's deleter
// on the interpreter thread when the last handle goes.
//
// Thread contract: interpreter thread only.
#pragma once

#include <Python.h>

#include "../gil/python_token.hpp"
#include "tensor.hpp"

namespace pyb {

// A new reference to a torch.Tensor viewing `tensor`'s memory. Imports torch if needed.
PyObject *tensor_to_python(Python, const Tensor &tensor);

// True if `obj` is a torch.Tensor (only checked once torch has been imported by someone).
bool is_torch_tensor(Python, PyObject *obj);

// A host view of torch tensor `obj` (borrowed), sharing its memory. A tensor that
// requires grad is detached first (the view is data only).
Tensor tensor_from_python(Python, PyObject *obj);

}  // namespace pyb
