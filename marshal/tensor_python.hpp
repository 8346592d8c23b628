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
// requires grad is detached first (the view is data only); a lazily conjugated or negated
// one is materialized first (a copy). Throws PythonError if torch cannot export it.
Tensor tensor_from_python(Python, PyObject *obj);

// The two halves of tensor_from_python, for callers that fall back on failure:
// try_export_tensor returns torch's DLPack capsule, or null with the Python error set
// (sparse, meta, and other tensors DLPack cannot describe); adopt_exported takes it over.
PyObject *try_export_tensor(Python, PyObject *obj);
Tensor adopt_exported(Python, PyObject *capsule);

}  // namespace pyb
