// pybridge/marshal/dlpack_lend.hpp — internal: a host Tensor lent to a DLPack consumer.
//
// The lent descriptor keeps the host tensor alive (a reference to its owner) until the
// consumer calls the deleter, on whatever thread it likes. byte_offset is folded into the
// data pointer (consumers differ on honouring it); strides are always explicit.
#pragma once

#include <Python.h>

#include "../gil/python_token.hpp"
#include "python_exports.hpp"
#include "tensor.hpp"

namespace pyb::detail {

// Who gets the descriptor. Python's borrowings are given back when the interpreter stops
// (python_exports.hpp: no Python code can read the memory after that); a host consumer
// (the C ABI's pyb_value_tensor) keeps its borrowing until it calls the deleter.
enum class Borrower { Python, Host };

// A versioned descriptor with `flags` (DLPACK_FLAG_BITMASK_*). Owned by the caller until
// handed over; its deleter frees it.
DLManagedTensorVersioned *lend_versioned(const Tensor &tensor, std::uint64_t flags,
                                         Borrower borrower = Borrower::Python);
// A legacy (pre-1.0) descriptor, for Python consumers that ask for no max_version.
DLManagedTensor *lend_legacy(const Tensor &tensor);

// Capsules named "dltensor_versioned" / "dltensor" over a lent descriptor; the capsule's
// destructor frees the descriptor if no consumer took it (renamed it "used_...").
PyObject *versioned_capsule(Python, DLManagedTensorVersioned *lent);
PyObject *legacy_capsule(Python, DLManagedTensor *lent);

}  // namespace pyb::detail
