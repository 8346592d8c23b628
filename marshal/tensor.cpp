#include "tensor.hpp"

#include <Python.h>

#include "../gil/release_pool.hpp"
#include "dlpack_validate.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>

namespace pyb {

// The one allocation behind a tensor's handles: two counts, the descriptor's fields a
// hand-off reads, and — only when the producer's strides are NULL — the compact strides
// after it. The shape and strides point into the producer's DLManagedTensorVersioned
// (valid until its deleter runs), so adopting a tensor copies nothing.
//
// Two counts because the cached Python view must not keep the memory's owner alive (the
// view, lent from this memory, holds a MemoryRef: the reverse would be a cycle):
//   handles — Tensor copies; the last one gone releases the view and drops its owners share;
//   owners  — one for all handles together, plus one per MemoryRef; the last one gone runs
//             the producer's deleter (deferred to the interpreter thread if it needs the
//             GIL: the block is then freed there, on the thread that allocated it).
struct Tensor::Block : release_pool::Deferred {
    std::atomic<std::uint32_t> handles{1};
    std::atomic<std::uint32_t> owners{1};
    // Keeps what a hand-off reads off the line every copy and drop of a handle writes.
    char pad_[64];
    DLManagedTensorVersioned *managed;
    const std::int64_t *strides;  // the descriptor's, or compact_strides() when those are NULL
    bool deleter_needs_gil;
    std::atomic<bool> keep_view{false};  // keep_python_view()
    // A strong reference to a torch tensor, or nullptr. Set on the interpreter thread; while
    // set, this block is in the registry below, so stop() can give the view back.
    void *view = nullptr;
    Block *view_prev = nullptr, *view_next = nullptr;  // the registry's links, guarded by its mutex

    Block(DLManagedTensorVersioned *m, bool needs_gil)
        : managed(m), strides(m->dl_tensor.strides), deleter_needs_gil(needs_gil) {
        run = &run_deleter;
    }
    Block(const Block &) = delete;
    Block &operator=(const Block &) = delete;

    std::int64_t *compact_strides() noexcept { return reinterpret_cast<std::int64_t *>(this + 1); }

    static Block *create(DLManagedTensorVersioned *m, bool needs_gil) {
        const DLTensor &t = m->dl_tensor;
        const size_t extra = t.strides || t.ndim <= 0 ? 0 : static_cast<size_t>(t.ndim) * sizeof(std::int64_t);
        void *mem = std::malloc(sizeof(Block) + extra);
        if (!mem) throw std::bad_alloc();
        Block *b = new (mem) Block(m, needs_gil);
        if (!t.strides) {
            std::int64_t *s = b->compact_strides(), step = 1;
            for (int i = t.ndim - 1; i >= 0; --i) {
                s[i] = step;
                if (i > 0) step *= t.shape[i];  // layout_overflow checked these products
            }
            b->strides = s;
        }
        return b;
    }
    static void destroy(Block *b) noexcept {
        b->~Block();
        std::free(b);
    }
    // Deferred::run: the producer's deleter (while Python lives), then the block.
    static void run_deleter(release_pool::Deferred *d, bool python_alive) noexcept {
        Block *b = static_cast<Block *>(d);
        if (python_alive) b->managed->deleter(b->managed);
        destroy(b);
    }

    void drop_owner() noexcept {
        if (owners.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        if (!managed->deleter) {
            destroy(this);
        } else if (deleter_needs_gil) {
            release_pool::defer(this);  // runs at once on the interpreter thread
        } else {
            run_deleter(this, true);
        }
    }
    void drop_handle() noexcept {
        if (handles.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        release_view();
        drop_owner();
    }
    void release_view() noexcept;
};

namespace {

// Every block holding a view. At shutdown the views are released while Python still runs
// (release_pool::at_close): torch then drops its views and the host memory's release
// callbacks run, as they did before views were kept. Never destroyed (process lifetime).
struct ViewRegistry {
    std::mutex mutex;
    Tensor::Block *head = nullptr;
};
ViewRegistry &views() {
    static ViewRegistry *r = new ViewRegistry;
    return *r;
}

}  // namespace

// Takes `b`'s view out of the registry; the caller releases it. Registry mutex held.
static void *unregister_view(Tensor::Block &b) {
    ViewRegistry &r = views();
    if (b.view_prev) b.view_prev->view_next = b.view_next; else r.head = b.view_next;
    if (b.view_next) b.view_next->view_prev = b.view_prev;
    b.view_prev = b.view_next = nullptr;
    void *v = b.view;
    b.view = nullptr;
    return v;
}

void Tensor::Block::release_view() noexcept {
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
        while (Tensor::Block *b = views().head) taken.push_back(unregister_view(*b));
    }
    for (void *v : taken) release_pool::decref(v);  // interpreter thread: at once
}

// Handles: one count per copy (relaxed increments, as shared_ptr's).
Tensor::Tensor(const Tensor &other) noexcept : b_(other.b_), ready_stream_(other.ready_stream_) {
    if (b_) b_->handles.fetch_add(1, std::memory_order_relaxed);
}
Tensor &Tensor::operator=(const Tensor &other) noexcept {
    if (other.b_) other.b_->handles.fetch_add(1, std::memory_order_relaxed);
    Block *old = b_;
    b_ = other.b_;
    ready_stream_ = other.ready_stream_;
    if (old) old->drop_handle();
    return *this;
}
Tensor &Tensor::operator=(Tensor &&other) noexcept {
    if (this != &other) {
        Block *old = b_;
        b_ = other.b_;
        ready_stream_ = other.ready_stream_;
        other.b_ = nullptr;
        if (old) old->drop_handle();
    }
    return *this;
}
Tensor::~Tensor() {
    if (b_) b_->drop_handle();
}

Tensor::MemoryRef &Tensor::MemoryRef::operator=(MemoryRef &&o) noexcept {
    if (this != &o) {
        Block *old = b_;
        b_ = o.b_;
        o.b_ = nullptr;
        if (old) old->drop_owner();
    }
    return *this;
}
Tensor::MemoryRef::~MemoryRef() {
    if (b_) b_->drop_owner();
}
Tensor::MemoryRef Tensor::keep_memory() const {
    Block &b = checked();
    b.owners.fetch_add(1, std::memory_order_relaxed);
    return MemoryRef(&b);
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

const char *layout_overflow(const std::int64_t *shape, const std::int64_t *strides, int ndim, DLDataType dtype,
                            std::uint64_t byte_offset) noexcept {
    bool empty = false;
    for (int i = 0; i < ndim; ++i) empty = empty || shape[i] == 0;
    if (empty) {
        // Addresses nothing; but compact strides (null strides) are still the products of
        // the trailing extents, as Block::create computes them: they must fit.
        std::int64_t step = 1;
        for (int i = ndim - 1; !strides && i > 0; --i) {
            if (__builtin_mul_overflow(step, shape[i], &step)) return "its compact strides overflow int64";
        }
        return nullptr;
    }
    std::int64_t numel = 1;
    for (int i = 0; i < ndim; ++i) {
        if (__builtin_mul_overflow(numel, shape[i], &numel)) return "its element count overflows int64";
    }
    std::int64_t last = numel - 1;  // the farthest element, in elements
    if (strides) {
        last = 0;
        for (int i = 0; i < ndim; ++i) {
            std::int64_t step = 0;
            if (strides[i] == INT64_MIN || __builtin_mul_overflow(shape[i] - 1, strides[i] < 0 ? -strides[i] : strides[i], &step) ||
                __builtin_add_overflow(last, step, &last))
                return "its strides reach past int64 elements";
        }
    }
    std::int64_t bytes = 0;
    if (__builtin_add_overflow(last, std::int64_t{1}, &bytes) ||
        __builtin_mul_overflow(bytes, static_cast<std::int64_t>((dtype.bits + 7) / 8), &bytes) ||
        byte_offset > static_cast<std::uint64_t>(INT64_MAX) ||
        __builtin_add_overflow(bytes, static_cast<std::int64_t>(byte_offset), &bytes))
        return "its byte extent overflows int64";
    return nullptr;
}

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
    bool has_elements = true;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] < 0) {
            throw Error("pybridge: tensor shape has a negative extent " + std::to_string(shape[i]) +
                        " in dimension " + std::to_string(i));
        }
        has_elements = has_elements && shape[i] != 0;
    }
    if (const char *why = layout_overflow(shape.data(), strides.empty() ? nullptr : strides.data(),
                                          static_cast<int>(shape.size()), dtype, byte_offset))
        throw Error(std::string("pybridge: tensor layout refused: ") + why);
    if (!data && has_elements) throw Error("pybridge: tensor data pointer is null but it has elements");

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
    return wrap(&m, /*deleter_needs_gil=*/false);
}

Tensor Tensor::adopt(DLManagedTensorVersioned *managed, bool deleter_needs_gil) {
    if (!managed) throw Error("pybridge: Tensor::adopt given a null DLManagedTensorVersioned");
    std::string problem = dlpack_problem(managed->dl_tensor);
    if (!problem.empty()) {
        if (managed->deleter) managed->deleter(managed);  // ownership was passed: honour it, once
        throw Error("pybridge: refused a malformed DLPack tensor from its producer: " + problem);
    }
    return wrap(managed, deleter_needs_gil);
}

Tensor Tensor::wrap(DLManagedTensorVersioned *managed, bool deleter_needs_gil) {
    Tensor t;
    try {
        t.b_ = Block::create(managed, deleter_needs_gil);
    } catch (...) {
        if (managed->deleter) managed->deleter(managed);  // ownership was passed: honour it
        throw;
    }
    return t;
}

Tensor::Block &Tensor::checked() const {
    if (!b_) throw Error("pybridge: empty Tensor handle");
    return *b_;
}

void Tensor::keep_python_view() const { checked().keep_view.store(true, std::memory_order_relaxed); }

bool Tensor::keeps_python_view() const noexcept { return b_ && b_->keep_view.load(std::memory_order_relaxed); }

void *Tensor::cached_python_view() const noexcept { return b_ ? b_->view : nullptr; }

void Tensor::set_cached_python_view(void *view) const {
    Block &b = checked();
    static const bool hooked = (release_pool::at_close(&release_all_views), true);
    (void)hooked;
    Py_XINCREF(static_cast<PyObject *>(view));
    void *old = nullptr;
    {
        std::lock_guard<std::mutex> lock(views().mutex);
        if (b.view) old = unregister_view(b);
        if (view) {
            b.view = view;
            b.view_next = views().head;
            if (b.view_next) b.view_next->view_prev = &b;
            views().head = &b;
        }
    }
    release_pool::decref(old);  // on the interpreter thread: at once
}

const DLTensor &Tensor::dl() const { return checked().managed->dl_tensor; }
IntArrayRef Tensor::shape() const {
    const DLTensor &t = dl();
    return {t.shape, static_cast<size_t>(t.ndim)};
}
IntArrayRef Tensor::strides() const {
    const Block &b = checked();
    return {b.strides, static_cast<size_t>(b.managed->dl_tensor.ndim)};
}

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
    const IntArrayRef s = shape();
    if (std::find(s.begin(), s.end(), 0) != s.end()) return 0;
    std::int64_t n = 1;
    for (std::int64_t e : s) {
        // from_buffer and pyb_tensor refuse such layouts; a producer adopted as is may not.
        if (__builtin_mul_overflow(n, e, &n)) throw Error("pybridge: tensor element count overflows int64");
    }
    return n;
}

bool Tensor::is_contiguous() const {
    const Block &b = checked();
    std::int64_t expect = 1;
    const DLTensor &t = b.managed->dl_tensor;
    for (int i = 0; i < t.ndim; ++i) {
        if (t.shape[i] == 0) return true;  // empty (its extents' product may not fit)
    }
    for (int i = t.ndim - 1; i >= 0; --i) {
        if (t.shape[i] != 1 && b.strides[i] != expect) return false;
        expect *= t.shape[i];  // fits: the element count was checked when the tensor was made
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
