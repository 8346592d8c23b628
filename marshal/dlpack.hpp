// pybridge/marshal/dlpack.hpp — the DLPack header pybridge builds on, and dtype helpers.
//
// The header is the one the torch wheel ships (torch/include/ATen/dlpack.h, DLPack 1.3,
// with DLManagedTensorVersioned and the C exchange API); the build points at it, nothing is
// copied into this tree. Spec: https://dmlc.github.io/dlpack/latest/
#pragma once

#include <ATen/dlpack.h>

#include <cstdint>
#include <string>
#include <type_traits>

static_assert(DLPACK_MAJOR_VERSION > 1 || (DLPACK_MAJOR_VERSION == 1 && DLPACK_MINOR_VERSION >= 3),
              "pybridge needs DLPack >= 1.3 (versioned tensors, C exchange API)");

// DLPack's types live in the global namespace; so must their operators, for ADL.
inline bool operator==(DLDataType a, DLDataType b) {
    return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}
inline bool operator!=(DLDataType a, DLDataType b) { return !(a == b); }

namespace pyb {

// "float32", "int64", "bool", "bfloat16", ...; "dtype(code=C, bits=B, lanes=L)" otherwise.
std::string dtype_name(DLDataType dtype);
// "cpu", "cuda:0", ...
std::string device_name(DLDevice device);

// The DLPack dtype of a C++ element type: dtype_of<float>() == {kDLFloat, 32, 1}.
template <class T>
constexpr DLDataType dtype_of() {
    if constexpr (std::is_same_v<T, bool>) {
        return {kDLBool, 8, 1};
    } else if constexpr (std::is_floating_point_v<T>) {
        return {kDLFloat, static_cast<uint8_t>(sizeof(T) * 8), 1};
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
        return {kDLInt, static_cast<uint8_t>(sizeof(T) * 8), 1};
    } else {
        static_assert(std::is_integral_v<T> && std::is_unsigned_v<T>, "no DLPack dtype for T");
        return {kDLUInt, static_cast<uint8_t>(sizeof(T) * 8), 1};
    }
}

constexpr DLDevice cpu_device() { return {kDLCPU, 0}; }

}  // namespace pyb
