// pybridge/marshal/tensor_python.hpp — Tensor <-> torch.Tensor, zero-copy through DLPack.
//
// Host -> Python: the host tensor is lent, not copied: a DLManagedTensorVersioned that
// keeps the host Tensor alive is handed to torch — through torch's C exchange table
// (dlpack_exchange.hpp: one C call) or, where that is off or missing, as a
// "dltensor_versioned" capsule to torch's DLPack importer. byte_offset is folded into the
// data pointer. Refused with an Error naming the tensor, before torch sees it: dtypes torch
// has no type for, negative strides (torch cannot view them), data misaligned for the dtype.
// A READ_ONLY tensor follows read_only_policy() (tensor.hpp): torch gets a copy, or it is
// refused; torch tensors cannot be made read-only.
// Python -> host: torch exports a versioned tensor (exchange table, else a capsule renamed
// "used_dltensor_versioned" as ownership is taken); the host Tensor runs torch's deleter on
// the interpreter thread when the last handle goes.
//
// Thread contract: interpreter thread only.
#pragma once

#include <Python.h>

#include "../gil/python_token.hpp"
#include "dlpack_stream.hpp"
#include "tensor.hpp"

namespace pyb {

// A new reference to a torch.Tensor viewing `tensor`'s memory (a copy for a READ_ONLY
// tensor under ReadOnlyPolicy::Copy). Imports torch if needed. On a GPU, torch's current
// stream first waits for the tensor's ready_stream() (dlpack_stream.hpp). Throws Error as
// above, PythonError if the stream handshake fails.
// A tensor that keeps its view (Tensor::keep_python_view) gets the kept torch tensor back
// while it still is exactly a view of the tensor: a plain torch.Tensor (exact type),
// requires_grad False, not conjugated, same data pointer, shape, strides, dtype
// and device (checked through torch's non-owning DLTensor export, no allocation); else a
// fresh view is lent and kept — unless made inside inference_mode (an inference tensor is
// one for good): that one is lent for the call only. Not checked: the negative bit, which
// only torch's private _set_neg sets in place (Python must not call it on a kept view). reuse_view false always lends a
// fresh, unkept view (for a caller that will change it, as to_torch(requires_grad) does).
PyObject *tensor_to_python(Python, const Tensor &tensor, bool reuse_view = true);

// True if `obj` is a torch.Tensor (only checked once torch has been imported by someone).
bool is_torch_tensor(Python, PyObject *obj);

// A host view of torch tensor `obj` (borrowed), sharing its memory. Autograd is dropped
// (the view is data only, like detach()); a lazily conjugated or negated tensor is
// materialized first (a copy; the view reports is_copied()). On a GPU, `stream` (the
// host's stream, dlpack_stream.hpp; None: the default stream) waits for torch's current
// stream, and the view reports it as its ready_stream(). `obj` must be a torch.Tensor
// (is_torch_tensor). Throws PythonError if torch cannot export the tensor or the stream
// handshake fails; Error for a stream value the device does not allow.
Tensor tensor_from_python(Python, PyObject *obj, dlpack::StreamArg stream = std::nullopt);

// As tensor_from_python, but false with the Python error set when DLPack cannot describe
// the tensor (sparse, meta, nested, ...), for callers that keep such tensors as objects.
bool try_tensor_from_python(Python, PyObject *obj, Tensor &out, dlpack::StreamArg stream = std::nullopt);

}  // namespace pyb
