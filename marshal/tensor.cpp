#include "tensor.hpp"

#include <Python.h>

#include "../gil/release_pool.hpp"

#include <atomic>
#include <mutex>

namespace pyb {

struct Tensor::Owner {
    DLManagedTensorVersioned *managed;
    bool deleter_needs_gil;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;  // explicit even when the descriptor's are NULL

    Owner(DLManagedTensorVersioned *m, bool needs_gil) : managed(m), deleter_needs_gil(needs_gil) {
        const DLTensor &t = m->dl_tensor;
        shape.assign(t.shape, t.shape + t.ndim);
        strides.resize(static_cast<size_t>(t.ndim));
        if (t.strides) {
            strides.assign(t.strides, t.strides + t.ndim);
        } else {
            std::int64_t s = 1;
            for (int i = t.ndim - 1; i >= 0; --i) {
                strides[static_cast<size_t>(i)] = s;
                s *= shape[static_cast<size_t>(i)];
            }
        }
    }
    ~Owner() {
        if (!managed->deleter) return;
        if (deleter_needs_gil) {
            release_pool::release({[](void *m) {
                                       auto *mt = static_cast<DLManagedTensorVersioned *>(m);
                                       mt->deleter(mt);
                                   },
                                   managed});
        } else {
            managed->deleter(managed);
        }
    }
    Owner(const Owner &) = delete;
    Owner &operator=(const Owner &) = delete;
};

// Its own cache line, apart from the shared_ptr control block make_shared puts before it:
// a host thread copying and dropping handles writes the reference count, and must not take
// with it the line the interpreter thread reads on every hand-off (the owner, the view).
struct alignas(64) Tensor::Shared {
    std::shared_ptr<Owner> owner;
    // A strong reference to a torch tensor, or nullptr. Set on the interpreter thread; while
    // set, this Shared is in the registry below, so stop() can give the view back.
    void *view = nullptr;
    Shared *prev = nullptr, *next = nullptr;  // the registry's links, guarded by its mutex
    std::atomic<bool> keep_view{false};       // keep_python_view()
    explicit Shared(std::shared_ptr<Owner> o) : owner(std::move(o)) {}
    ~Shared();
    Shared(const Shared &) = delete;
    Shared &operator=(const Shared &) = delete;
};

namespace {

// Every Shared holding a view. At shutdown the views are released while Python still runs
// (release_pool::at_close): torch then drops its views and the host memory's release
// callbacks run, as they did before views were kept. Never destroyed (process lifetime).
struct ViewRegistry {
    std::mutex mutex;
    Tensor::Shared *head = nullptr;
};
ViewRegistry &views() {
    static ViewRegistry *r = new ViewRegistry;
    return *r;
}

}  // namespace

// Takes `s`'s view out of the registry; the caller releases it. Registry mutex held.
static void *unregister_view(Tensor::Shared &s) {
    ViewRegistry &r = views();
    if (s.prev) s.prev->next = s.next; else r.head = s.next;
    if (s.next) s.next->prev = s.prev;
    s.prev = s.next = nullptr;
    void *v = s.view;
    s.view = nullptr;
    return v;
}

Tensor::Shared::~Shared() {
    if (!keep_view.load(std::memory_order_relaxed)) return;  // never had a view
    // Under the mutex: the shutdown sweep may be taking the view at the same time. A host
    // thread queues the release before unlocking, so a sweep that missed this view (it was
    // unregistered first) cannot close the pool before it is queued. The interpreter thread
    // releases after unlocking: there the release runs at once and may drop other tensors.
    void *v = nullptr;
    const bool interpreter = release_pool::on_interpreter_thread();
    {
        std::lock_guard<std::mutex> lock(views().mutex);
        if (view) v = unregister_view(*this);
        if (!interpreter) release_pool::decref(v);
    }
    if (interpreter) release_pool::decref(v);
}

static void release_all_views() {
    std::vector<void *> taken;
    {
        std::lock_guard<std::mutex> lock(views().mutex);
        while (Tensor::Shared *s = views().head) taken.push_back(unregister_view(*s));
    }
    for (void *v : taken) release_pool::decref(v);  // interpreter thread: at once
}

namespace {

// manager_ctx of a host buffer: owns the shape/strides arrays the descriptor points to.
struct HostBuffer {
    DLManagedTensorVersioned managed{};
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;
    std::function<void()> release;

    static void deleter(DLManagedTensorVersioned *self) {
        auto *buf = static_cast<HostBuffer *>(self->manager_ctx);
        if (buf->release) {
            try {
                buf->release();
            } catch (...) {
                // A release callback must not throw; there is no caller to report to.
            }
        }
        delete buf;
    }
};

}  // namespace

Tensor Tensor::from_buffer(void *data, std::vector<std::int64_t> shape, DLDataType dtype,
                           std::vector<std::int64_t> strides, std::function<void()> release,
                           DLDevice device, std::uint64_t byte_offset, bool read_only) {
    // Validate before taking `release`: on error the caller still owns the memory.
    if (dtype.lanes != 1)
        throw Error("pybridge: tensor dtype " + dtype_name(dtype) + " has lanes != 1");
    if (dtype.code > kDLFloat4_e2m1fn)
        throw Error("pybridge: tensor dtype " + dtype_name(dtype) + " has a type code DLPack does not define");
    if (dtype.bits == 0 || dtype.bits % 8 != 0)
        throw Error("pybridge: tensor dtype " + dtype_name(dtype) + " is not a whole number of bytes");
    if (!strides.empty() && strides.size() != shape.size()) {
        throw Error("pybridge: tensor has " + std::to_string(shape.size()) + " dimensions but " +
                    std::to_string(strides.size()) + " strides");
    }
    std::int64_t numel = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] < 0) {
            throw Error("pybridge: tensor shape has a negative extent " + std::to_string(shape[i]) +
                        " in dimension " + std::to_string(i));
        }
        numel *= shape[i];
    }
    if (!data && numel > 0) throw Error("pybridge: tensor data pointer is null but it has elements");

    auto *buf = new HostBuffer;
    buf->shape = std::move(shape);
    buf->strides = std::move(strides);
    buf->release = std::move(release);
    DLManagedTensorVersioned &m = buf->managed;
    m.version = {DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION};
    m.manager_ctx = buf;
    m.deleter = &HostBuffer::deleter;
    m.flags = read_only ? DLPACK_FLAG_BITMASK_READ_ONLY : 0;
    m.dl_tensor.data = data;
    m.dl_tensor.device = device;
    m.dl_tensor.ndim = static_cast<int32_t>(buf->shape.size());
    m.dl_tensor.dtype = dtype;
    m.dl_tensor.shape = buf->shape.data();
    m.dl_tensor.strides = buf->strides.empty() ? nullptr : buf->strides.data();
    m.dl_tensor.byte_offset = byte_offset;
    return adopt(&m, /*deleter_needs_gil=*/false);
}

Tensor Tensor::adopt(DLManagedTensorVersioned *managed, bool deleter_needs_gil) {
    if (!managed) throw Error("pybridge: Tensor::adopt given a null DLManagedTensorVersioned");
    Tensor t;
    std::shared_ptr<Owner> owner;
    try {
        owner = std::make_shared<Owner>(managed, deleter_needs_gil);
    } catch (...) {
        if (managed->deleter) managed->deleter(managed);  // ownership was passed: honour it
        throw;
    }
    t.h_ = std::make_shared<Shared>(std::move(owner));  // if this throws, ~Owner runs the deleter
    return t;
}

const Tensor::Owner &Tensor::checked() const {
    if (!h_) throw Error("pybridge: empty Tensor handle");
    return *h_->owner;
}

const std::shared_ptr<Tensor::Owner> &Tensor::owner() const {
    if (!h_) throw Error("pybridge: empty Tensor handle");
    return h_->owner;
}

void Tensor::keep_python_view() const {
    if (!h_) throw Error("pybridge: empty Tensor handle");
    h_->keep_view.store(true, std::memory_order_relaxed);
}

bool Tensor::keeps_python_view() const noexcept { return h_ && h_->keep_view.load(std::memory_order_relaxed); }

void *Tensor::cached_python_view() const noexcept { return h_ ? h_->view : nullptr; }

void Tensor::set_cached_python_view(void *view) const {
    if (!h_) throw Error("pybridge: empty Tensor handle");
    static const bool hooked = (release_pool::at_close(&release_all_views), true);
    (void)hooked;
    Py_XINCREF(static_cast<PyObject *>(view));
    void *old = nullptr;
    {
        std::lock_guard<std::mutex> lock(views().mutex);
        Shared &s = *h_;
        if (s.view) old = unregister_view(s);
        if (view) {
            s.view = view;
            s.next = views().head;
            if (s.next) s.next->prev = &s;
            views().head = &s;
        }
    }
    release_pool::decref(old);  // on the interpreter thread: at once
}

const DLTensor &Tensor::dl() const { return checked().managed->dl_tensor; }
const std::vector<std::int64_t> &Tensor::shape() const { return checked().shape; }
const std::vector<std::int64_t> &Tensor::strides() const { return checked().strides; }

namespace {
std::atomic<ReadOnlyPolicy> g_read_only_policy{ReadOnlyPolicy::Copy};
}
void set_read_only_policy(ReadOnlyPolicy policy) noexcept { g_read_only_policy.store(policy); }
ReadOnlyPolicy read_only_policy() noexcept { return g_read_only_policy.load(); }

bool Tensor::is_copied() const {
    return (checked().managed->flags & DLPACK_FLAG_BITMASK_IS_COPIED) != 0;
}

bool Tensor::read_only() const {
    return (checked().managed->flags & DLPACK_FLAG_BITMASK_READ_ONLY) != 0;
}

std::int64_t Tensor::numel() const {
    std::int64_t n = 1;
    for (std::int64_t e : shape()) n *= e;
    return n;
}

bool Tensor::is_contiguous() const {
    const Owner &o = checked();
    std::int64_t expect = 1;
    for (int i = static_cast<int>(o.shape.size()) - 1; i >= 0; --i) {
        const auto d = static_cast<size_t>(i);
        if (o.shape[d] != 1 && o.strides[d] != expect) return false;
        expect *= o.shape[d];
    }
    return true;
}

void *Tensor::data() const {
    const DLTensor &t = dl();
    return static_cast<char *>(t.data) + t.byte_offset;
}

void Tensor::check_dtype(DLDataType want) const {
    if (dtype() != want) {
        throw Error("pybridge: expected a " + dtype_name(want) + " tensor, got " + describe());
    }
}

std::string Tensor::describe() const {
    std::string s = dtype_name(dtype()) + "[";
    for (size_t i = 0; i < shape().size(); ++i) s += (i ? ", " : "") + std::to_string(shape()[i]);
    return s + "] on " + device_name(device());
}

std::string dtype_name(DLDataType dtype) {
    const std::string bits = std::to_string(dtype.bits);
    if (dtype.lanes == 1) {
        switch (dtype.code) {
            case kDLBool: return "bool";
            case kDLInt: return "int" + bits;
            case kDLUInt: return "uint" + bits;
            case kDLFloat: return "float" + bits;
            case kDLBfloat: return "bfloat" + bits;
            case kDLComplex: return "complex" + bits;
            case kDLFloat8_e3m4: return "float8_e3m4";
            case kDLFloat8_e4m3: return "float8_e4m3";
            case kDLFloat8_e4m3b11fnuz: return "float8_e4m3b11fnuz";
            case kDLFloat8_e4m3fn: return "float8_e4m3fn";
            case kDLFloat8_e4m3fnuz: return "float8_e4m3fnuz";
            case kDLFloat8_e5m2: return "float8_e5m2";
            case kDLFloat8_e5m2fnuz: return "float8_e5m2fnuz";
            case kDLFloat8_e8m0fnu: return "float8_e8m0fnu";
            case kDLFloat6_e2m3fn: return "float6_e2m3fn";
            case kDLFloat6_e3m2fn: return "float6_e3m2fn";
            case kDLFloat4_e2m1fn: return "float4_e2m1fn";
            default: break;
        }
    }
    return "dtype(code=" + std::to_string(dtype.code) + ", bits=" + bits +
           ", lanes=" + std::to_string(dtype.lanes) + ")";
}

std::string device_name(DLDevice device) {
    const std::string id = ":" + std::to_string(device.device_id);
    switch (device.device_type) {
        case kDLCPU: return "cpu";
        case kDLCUDA: return "cuda" + id;
        case kDLCUDAHost: return "cuda_host" + id;
        case kDLCUDAManaged: return "cuda_managed" + id;
        case kDLROCM: return "rocm" + id;
        case kDLMetal: return "metal" + id;
        default: return "device(type=" + std::to_string(device.device_type) + ")" + id;
    }
}

}  // namespace pyb
