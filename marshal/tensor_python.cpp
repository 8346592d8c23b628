#include "tensor_python.hpp"

#include <memory>

#include "../gil/python_error.hpp"
#include "dlpack_capsule.hpp"
#include "dlpack_exchange.hpp"
#include "dlpack_stream.hpp"
#include "dlpack_lend.hpp"
#include "py_ref.hpp"

namespace pyb {
namespace {

// torch entry points, looked up once. Strong references, never released: the interpreter
// is started once per process and outlives every call.
struct TorchApi {
    PyObject *tensor_type = nullptr;          // torch.Tensor
    PyObject *from_dlpack = nullptr;          // torch._C._from_dlpack(capsule)
    PyObject *to_dlpack_versioned = nullptr;  // torch._C._to_dlpack_versioned(tensor)
    PyObject *is_conj = nullptr;              // torch.Tensor.is_conj, unbound: one vectorcall
    PyObject *is_neg = nullptr;               // torch.Tensor.is_neg
    PyObject *is_inference = nullptr;         // torch.Tensor.is_inference
    PyObject *requires_grad = nullptr;        // "requires_grad", interned
    PyObject *requires_grad_getter = nullptr; // torch.Tensor's own requires_grad descriptor (borrowed from the type)
};
TorchApi g_torch;

const TorchApi &torch_api(Python py) {
    if (g_torch.tensor_type) return g_torch;
    PyObject *torch = PyImport_ImportModule("torch");
    if (!torch) throw_python_error(py);
    PyObject *c = PyObject_GetAttrString(torch, "_C");
    TorchApi api;
    api.tensor_type = PyObject_GetAttrString(torch, "Tensor");
    api.from_dlpack = c ? PyObject_GetAttrString(c, "_from_dlpack") : nullptr;
    api.to_dlpack_versioned = c ? PyObject_GetAttrString(c, "_to_dlpack_versioned") : nullptr;
    api.is_conj = api.tensor_type ? PyObject_GetAttrString(api.tensor_type, "is_conj") : nullptr;
    api.is_neg = api.tensor_type ? PyObject_GetAttrString(api.tensor_type, "is_neg") : nullptr;
    api.is_inference = api.tensor_type ? PyObject_GetAttrString(api.tensor_type, "is_inference") : nullptr;
    api.requires_grad = PyUnicode_InternFromString("requires_grad");
    Py_XDECREF(c);
    Py_DECREF(torch);
    if (!api.tensor_type || !api.from_dlpack || !api.to_dlpack_versioned || !api.is_conj || !api.is_neg ||
        !api.is_inference || !api.requires_grad) {
        for (PyObject *o : {api.tensor_type, api.from_dlpack, api.to_dlpack_versioned, api.is_conj, api.is_neg,
                            api.is_inference, api.requires_grad})
            Py_XDECREF(o);
        throw_python_error(py);
    }
    // The descriptor behind tensor.requires_grad, called directly for exact torch.Tensor
    // objects: the same getter, without the attribute lookup (a hot check, view reuse).
    PyObject *getter = _PyType_Lookup(reinterpret_cast<PyTypeObject *>(api.tensor_type), api.requires_grad);
    if (getter && Py_TYPE(getter)->tp_descr_get) api.requires_grad_getter = getter;
    g_torch = api;
    return g_torch;
}

const DLPackExchangeAPI *torch_exchange(Python py, const TorchApi &torch) {
    return dlpack::exchange_api_of(py, reinterpret_cast<PyTypeObject *>(torch.tensor_type));
}

// The dtypes torch has a scalar type for (torch 2.x's DLPack importer).
bool torch_has_dtype(DLDataType t) {
    if (t.lanes != 1) return false;
    switch (t.code) {
        case kDLInt:
        case kDLUInt: return t.bits == 8 || t.bits == 16 || t.bits == 32 || t.bits == 64;
        case kDLFloat: return t.bits == 16 || t.bits == 32 || t.bits == 64;
        case kDLBfloat: return t.bits == 16;
        case kDLComplex: return t.bits == 64 || t.bits == 128;
        case kDLBool: return t.bits == 8;
        case kDLFloat8_e4m3fn:
        case kDLFloat8_e4m3fnuz:
        case kDLFloat8_e5m2:
        case kDLFloat8_e5m2fnuz:
        case kDLFloat8_e8m0fnu: return t.bits == 8;
        default: return false;
    }
}

// What torch cannot view safely is refused here, with the reason, before torch sees it.
void check_torch_can_view(const Tensor &tensor) {
    if (!torch_has_dtype(tensor.dtype()))
        throw Error("pybridge: torch has no dtype for tensor " + tensor.describe());
    const auto &strides = tensor.strides();
    for (size_t i = 0; i < strides.size(); ++i) {
        if (strides[i] < 0 && tensor.shape()[i] > 1) {
            throw Error("pybridge: tensor " + tensor.describe() + " has a negative stride (" +
                        std::to_string(strides[i]) + " in dimension " + std::to_string(i) +
                        "); torch cannot view negative strides: flip or copy it on the host first");
        }
    }
    const auto address = reinterpret_cast<std::uintptr_t>(tensor.data());
    const unsigned align = tensor.dtype().bits / 8;
    if (tensor.numel() > 0 && align > 1 && address % align != 0) {
        throw Error("pybridge: tensor " + tensor.describe() + " data at 0x" + [&] {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(address));
            return std::string(buf);
        }() + " is not aligned to its " + std::to_string(align) + "-byte elements");
    }
}

// A new reference to a torch tensor over the host tensor's memory (no copy).
PyObject *lend_to_torch(Python py, const TorchApi &torch, const Tensor &tensor) {
    // READ_ONLY was dealt with by the caller (torch would ignore the flag).
    DLManagedTensorVersioned *m = detail::lend_versioned(tensor, 0);
    if (const DLPackExchangeAPI *api = torch_exchange(py, torch)) {
        void *out = nullptr;
        // Ownership passes to torch whatever the outcome (spec: the tensor is stolen).
        const int rc = api->managed_tensor_to_py_object_no_sync(m, &out);
        if (rc != 0 || !out) throw_python_error(py);
        return static_cast<PyObject *>(out);
    }
    PyRef capsule(py, detail::versioned_capsule(py, m));  // owns m until torch takes it
    return PyRef(py, PyObject_CallOneArg(torch.from_dlpack, capsule.p)).release();
}

// 1, 0, or -1 with a Python error: the truth of a new reference (consumed).
int truth(PyObject *v) {
    if (!v) return -1;
    const int r = v == Py_True ? 1 : v == Py_False ? 0 : PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

// The view kept on `tensor` (Tensor::keep_python_view), as a new reference, if it still is
// exactly what lend_to_torch would build now: a plain torch.Tensor that does not require
// grad, is not conjugated, over the same data, shape, strides, dtype and device. Python
// code may have changed the view in place between hand-offs (requires_grad_(), resize_(),
// t_(), set_(), `.data = x.conj()`...): then nullptr, and the caller lends a fresh view.
// Layout checked through the exchange table's non-owning export (no allocation); without
// the table, views are not kept.
PyObject *reusable_view(Python py, const TorchApi &torch, const Tensor &tensor) {
    auto *view = static_cast<PyObject *>(tensor.cached_python_view());
    if (!view || !Py_IS_TYPE(view, reinterpret_cast<PyTypeObject *>(torch.tensor_type))) return nullptr;
    const DLPackExchangeAPI *api = torch_exchange(py, torch);
    if (!api || !api->dltensor_from_py_object_no_sync) return nullptr;
    DLTensor now{};
    if (api->dltensor_from_py_object_no_sync(view, &now) != 0) {
        PyErr_Clear();  // not exportable any more: lend a fresh view
        return nullptr;
    }
    const DLTensor &want = tensor.dl();
    if (static_cast<char *>(now.data) + now.byte_offset != tensor.data() || now.ndim != want.ndim ||
        now.dtype != want.dtype || now.device.device_type != want.device.device_type ||
        now.device.device_id != want.device.device_id)
        return nullptr;
    const auto &shape = tensor.shape();
    const auto &strides = tensor.strides();
    if (!now.strides && !tensor.is_contiguous()) return nullptr;  // NULL strides: compact row-major
    for (int i = 0; i < now.ndim; ++i) {
        const auto d = static_cast<size_t>(i);
        // Strides of extent-1 dimensions carry no information; torch may normalise them.
        if (now.shape[i] != shape[d] || (now.strides && shape[d] > 1 && now.strides[i] != strides[d])) return nullptr;
    }
    PyObject *grad = torch.requires_grad_getter
                         ? Py_TYPE(torch.requires_grad_getter)->tp_descr_get(torch.requires_grad_getter, view, torch.tensor_type)
                         : PyObject_GetAttr(view, torch.requires_grad);
    if (!grad) {
        PyErr_Clear();
        return nullptr;
    }
    Py_DECREF(grad);
    if (grad != Py_False) return nullptr;
    // A lazy conjugation changes what the elements read as; `view.data = view.conj()` sets
    // one in place. (The negative bit can only be set in place through torch's private
    // _set_neg: not checked, as torch's is_neg() would double the cost of this check.)
    if (want.dtype.code == kDLComplex && truth(PyObject_CallOneArg(torch.is_conj, view)) != 0) {
        PyErr_Clear();
        return nullptr;
    }
    Py_INCREF(view);
    return view;
}


// Calls tensor.<method>() and replaces `tensor` with the result (a new reference).
bool apply(PyObject *&tensor, const char *method) {
    PyObject *r = PyObject_CallMethod(tensor, method, nullptr);
    Py_DECREF(tensor);
    tensor = r;
    return r != nullptr;
}

// torch's current stream on `device`: the stream torch reads and writes its tensors on.
dlpack::StreamArg torch_stream(Python py, const TorchApi &torch, DLDevice device) {
    if (const DLPackExchangeAPI *api = torch_exchange(py, torch)) return dlpack::work_stream(py, *api, device);
    return dlpack::torch_current_stream(py, device);
}

// try_tensor_from_python without the stream handshake.
bool export_from_torch(Python py, const TorchApi &torch, PyObject *obj, Tensor &out) {
    // Lazily conjugated / negated tensors export their storage without the flag, which
    // DLPack cannot carry: those take the materializing path below. (Only complex tensors
    // can be conjugated.)
    const int neg = truth(PyObject_CallOneArg(torch.is_neg, obj));
    if (neg < 0) return false;
    if (const DLPackExchangeAPI *api = torch_exchange(py, torch); api && !neg) {
        DLManagedTensorVersioned *m = nullptr;
        if (api->managed_tensor_from_py_object_no_sync(obj, &m) == 0 && m) {
            Tensor t = Tensor::adopt(m, /*deleter_needs_gil=*/true);
            if (t.dtype().code != kDLComplex) {
                out = std::move(t);
                return true;
            }
            const int conj = truth(PyObject_CallOneArg(torch.is_conj, obj));
            if (conj < 0) return false;
            if (!conj) {
                out = std::move(t);
                return true;
            }
        } else if (!PyErr_Occurred() || !PyErr_ExceptionMatches(PyExc_Exception)) {
            return false;  // an interrupt, say
        } else {
            PyErr_Clear();  // the capsule path below raises torch's own error
        }
    }
    // The capsule path: the view is data only: autograd is dropped (detach), and lazily
    // conjugated or negated views are materialized (a copy).
    PyObject *tensor = obj;
    Py_INCREF(tensor);
    const int grad = truth(PyObject_GetAttr(tensor, torch.requires_grad));
    const int conj = grad < 0 ? -1 : truth(PyObject_CallOneArg(torch.is_conj, tensor));
    if (grad < 0 || conj < 0 || (grad && !apply(tensor, "detach")) || (conj && !apply(tensor, "resolve_conj")) ||
        (neg && !apply(tensor, "resolve_neg"))) {
        Py_XDECREF(tensor);
        return false;
    }
    PyObject *capsule = PyObject_CallOneArg(torch.to_dlpack_versioned, tensor);
    Py_DECREF(tensor);
    if (!capsule) return false;
    PyRef hold(capsule);
    out = tensor_from_capsule(py, capsule, /*is_copied=*/conj || neg);
    return true;
}

}  // namespace

PyObject *tensor_to_python(Python py, const Tensor &tensor, bool reuse_view) {
    const TorchApi &torch = torch_api(py);
    check_torch_can_view(tensor);
    const DLDevice device = tensor.device();
    if (dlpack::has_streams(device.device_type) && tensor.ready_stream() != dlpack::kNoSync) {
        // torch will use the data on its current stream: that stream waits for the host's.
        dlpack::synchronize(py, device, dlpack::plan_stream_sync(device, tensor.ready_stream(), torch_stream(py, torch, device)));
    }
    if (!tensor.read_only()) {
        if (!reuse_view || !tensor.keeps_python_view()) return lend_to_torch(py, torch, tensor);
        if (PyObject *view = reusable_view(py, torch, tensor)) return view;
        PyRef view(py, lend_to_torch(py, torch, tensor));
        // Made inside inference_mode, it is an inference tensor for good (no in-place use or
        // autograd outside the mode): lent for this call only.
        const int inference = truth(PyObject_CallOneArg(torch.is_inference, view.p));
        if (inference < 0) throw_python_error(py);
        if (!inference) tensor.set_cached_python_view(view.p);
        return view.release();
    }
    if (read_only_policy() == ReadOnlyPolicy::Refuse) {
        throw Error("pybridge: tensor " + tensor.describe() +
                    " is read-only and torch tensors cannot be (ReadOnlyPolicy::Refuse); pass a writable "
                    "tensor, or set ReadOnlyPolicy::Copy to give Python a copy");
    }
    PyRef view(py, lend_to_torch(py, torch, tensor));
    return PyRef(py, PyObject_CallMethod(view.p, "clone", nullptr)).release();
}

bool is_torch_tensor(Python py, PyObject *obj) {
    if (!g_torch.tensor_type) {
        // No torch import just to look: if torch is not loaded, obj cannot be a tensor.
        PyObject *modules = PyImport_GetModuleDict();
        if (!PyDict_GetItemString(modules, "torch")) return false;
        torch_api(py);
    }
    if (Py_IS_TYPE(obj, reinterpret_cast<PyTypeObject *>(g_torch.tensor_type))) return true;
    const int r = PyObject_IsInstance(obj, g_torch.tensor_type);
    if (r < 0) throw_python_error(py);
    return r == 1;
}

Tensor tensor_from_python(Python py, PyObject *obj, dlpack::StreamArg stream) {
    Tensor t;
    if (!try_tensor_from_python(py, obj, t, stream)) throw_python_error(py);
    return t;
}

bool try_tensor_from_python(Python py, PyObject *obj, Tensor &out, dlpack::StreamArg stream) {
    const TorchApi &torch = torch_api(py);
    if (!export_from_torch(py, torch, obj, out)) return false;
    const DLDevice device = out.device();
    if (dlpack::has_streams(device.device_type)) {
        // The data is ready on torch's current stream; the host's stream waits for it.
        dlpack::synchronize(py, device, dlpack::plan_stream_sync(device, torch_stream(py, torch, device), stream));
        out = out.on_stream(stream);
    }
    return true;
}

}  // namespace pyb
