#include "dlpack_validate.hpp"

#include "tensor.hpp"

namespace pyb {
namespace {

bool known_dtype_code(std::uint8_t code) {
    return code <= kDLFloat4_e2m1fn && code != kDLOpaqueHandle;
}

bool known_device(DLDeviceType type) {
    switch (type) {
        case kDLCPU: case kDLCUDA: case kDLCUDAHost: case kDLOpenCL: case kDLVulkan: case kDLMetal:
        case kDLVPI: case kDLROCM: case kDLROCMHost: case kDLExtDev: case kDLCUDAManaged: case kDLOneAPI:
        case kDLWebGPU: case kDLHexagon: case kDLMAIA: case kDLTrn:
            return true;
    }
    return false;
}

}  // namespace

std::string dlpack_problem(const DLTensor &t) {
    const int ndim = t.ndim;
    if (ndim < 0 || ndim > kMaxTensorRank)
        return "ndim=" + std::to_string(ndim) + " (must be 0 to " + std::to_string(kMaxTensorRank) + ")";
    if (ndim > 0 && !t.shape) return "shape=NULL with ndim=" + std::to_string(ndim);
    const DLDataType dtype = t.dtype;
    if (dtype.lanes != 1) return "dtype.lanes=" + std::to_string(dtype.lanes) + " (only 1 is supported)";
    if (!known_dtype_code(dtype.code)) return "dtype.code=" + std::to_string(dtype.code) + " (not a DLPack data type)";
    if (dtype.bits == 0 || dtype.bits % 8 != 0)
        return "dtype.bits=" + std::to_string(dtype.bits) + " (not a whole number of bytes)";
    if (!known_device(t.device.device_type))
        return "device.device_type=" + std::to_string(static_cast<int>(t.device.device_type)) + " (not a DLPack device)";
    if (t.device.device_id < 0) return "device.device_id=" + std::to_string(t.device.device_id);
    bool has_elements = true;
    for (int i = 0; i < ndim; ++i) {
        const std::int64_t extent = t.shape[i];
        if (extent < 0) return "shape[" + std::to_string(i) + "]=" + std::to_string(extent) + " (negative extent)";
        has_elements = has_elements && extent != 0;
    }
    if (const char *why = layout_overflow(t.shape, t.strides, ndim, dtype, t.byte_offset))
        return std::string("layout: ") + why;
    if (!t.data && has_elements) return "data=NULL for a tensor with elements";
    return {};
}

}  // namespace pyb
