// pybridge/marshal/dlpack_validate.hpp — checks a DLPack producer's descriptor before any
// field of it is trusted.
//
// A producer (a Python object's __dlpack__, a capsule, an exchange table) controls every
// field of the DLTensor it hands over. A negative ndim or extent, a NULL shape, an unknown
// dtype or device, a NULL data pointer with elements, or a layout whose byte extent
// overflows int64 would make the host read memory it must not (or compute a wrong size).
// DLPack states the invariants (https://dmlc.github.io/dlpack/latest/c_api.html); consumers
// are expected to enforce them, as numpy and torch do for theirs.
#pragma once

#include <string>

#include "dlpack.hpp"

namespace pyb {

// The highest rank accepted from a producer or a host (numpy's NPY_MAXDIMS is 64; torch
// has no limit but no real tensor comes near it). Checked before the shape array is read.
constexpr int kMaxTensorRank = 64;

// Empty if `t` may be read, else what is wrong, naming the field and its value
// ("ndim=-1", "shape[2]=-5", "dtype.lanes=4", ...). Reads each field once, in an order
// that never reads an array before its length was checked. noexcept apart from the
// returned string's allocation.
std::string dlpack_problem(const DLTensor &t);

}  // namespace pyb
