// pybridge/marshal/tensor.hpp — a host handle to one DLPack tensor, shared zero-copy with
// Python in both directions.
//
// A Tensor owns one DLManagedTensorVersioned (DLPack >= 1.0) and runs its deleter exactly
// once, when the last copy of the handle and every Python tensor made from it are gone.
//   - Host buffers (Tensor::from_buffer): the host keeps the memory; `release` is called
//     once, on whichever thread drops the last user (a host thread, or the interpreter
//     thread when torch frees its view). It must be thread-safe and must not call pybridge.
//   - Python-produced tensors (from_python in convert.hpp): the producer's deleter needs the
//     GIL, so dropping the last host handle on a host thread queues it for the interpreter
//     thread (release_pool.hpp); after the interpreter stopped it is dropped, not run.
//
// Thread contract: handles may be copied and destroyed on any thread. The data they point
// to is not synchronized: do not write it while Python reads it, or the other way round.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../gil/errors.hpp"
#include "dlpack.hpp"

namespace pyb {

// How a READ_ONLY host tensor crosses to torch, whose tensors cannot be read-only: Copy
// (the default) gives Python its own copy, made at the hand-off; Refuse throws Error.
enum class ReadOnlyPolicy { Copy, Refuse };
void set_read_only_policy(ReadOnlyPolicy policy) noexcept;  // process-wide; any thread
ReadOnlyPolicy read_only_policy() noexcept;

// A read-only view of a tensor's extents or strides: ndim int64 values the tensor owns
// (c10::IntArrayRef's role). Valid while a handle to the tensor lives; copy it into a
// std::vector (implicit conversion, or vec()) to keep it longer: `auto s = t.shape();` is a
// view, `std::vector<std::int64_t> s = t.shape();` a copy. Compares equal to a std::vector
// with the same values.
class IntArrayRef {
public:
    using value_type = std::int64_t;
    using const_iterator = const std::int64_t *;
    using iterator = const_iterator;

    constexpr IntArrayRef() noexcept = default;
    constexpr IntArrayRef(const std::int64_t *data, std::size_t size) noexcept : data_(data), size_(size) {}

    constexpr const std::int64_t *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr const_iterator begin() const noexcept { return data_; }
    constexpr const_iterator end() const noexcept { return data_ + size_; }
    constexpr std::int64_t operator[](std::size_t i) const noexcept { return data_[i]; }  // unchecked
    std::vector<std::int64_t> vec() const { return {begin(), end()}; }
    operator std::vector<std::int64_t>() const { return vec(); }

    friend bool operator==(IntArrayRef a, IntArrayRef b) noexcept {
        return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
    }
    friend bool operator!=(IntArrayRef a, IntArrayRef b) noexcept { return !(a == b); }
    friend bool operator==(IntArrayRef a, const std::vector<std::int64_t> &b) noexcept {
        return a == IntArrayRef(b.data(), b.size());
    }
    friend bool operator==(const std::vector<std::int64_t> &a, IntArrayRef b) noexcept { return b == a; }
    friend bool operator!=(IntArrayRef a, const std::vector<std::int64_t> &b) noexcept { return !(a == b); }
    friend bool operator!=(const std::vector<std::int64_t> &a, IntArrayRef b) noexcept { return !(b == a); }

private:
    const std::int64_t *data_ = nullptr;
    std::size_t size_ = 0;
};

// Whether a layout addresses a byte range that fits in int64 — its element count, and the
// farthest element's byte offset (strides null: compact row-major; in elements, either
// sign) plus `byte_offset`. DLPack leaves it unsaid; torch's storage size is an int64, and a
// host sizing a copy by numel() needs it. Extents must be >= 0 (checked first); an empty
// tensor addresses nothing, but with null strides its compact strides (products of the
// trailing extents) must still fit. Returns null if it fits, else what overflows.
const char *layout_overflow(const std::int64_t *shape, const std::int64_t *strides, int ndim, DLDataType dtype,
                            std::uint64_t byte_offset) noexcept;

class Tensor {
public:
    Tensor() noexcept = default;  // empty: no tensor
    Tensor(const Tensor &other) noexcept;
    Tensor(Tensor &&other) noexcept : b_(other.b_), ready_stream_(other.ready_stream_) { other.b_ = nullptr; }
    Tensor &operator=(const Tensor &other) noexcept;
    Tensor &operator=(Tensor &&other) noexcept;
    ~Tensor();

    // Wraps host memory without copying. `data` points at element [0, ..., 0] minus
    // `byte_offset` bytes (as DLTensor). `shape` has ndim entries >= 0; `strides` are in
    // elements (not bytes), one per dimension, or empty for compact row-major. `release`
    // (may be empty) is called exactly once when the memory is no longer used.
    // `read_only` sets DLPack's READ_ONLY flag: torch never writes the memory (it gets a copy,
    // or the hand-off is refused: read_only_policy() below).
    // Throws Error for a negative extent, a strides/shape rank mismatch, lanes != 1, or a
    // layout whose element count or byte extent overflows int64 (layout_overflow).
    static Tensor from_buffer(void *data, std::vector<std::int64_t> shape, DLDataType dtype,
                              std::vector<std::int64_t> strides = {},
                              std::function<void()> release = {}, DLDevice device = cpu_device(),
                              std::uint64_t byte_offset = 0, bool read_only = false);

    // Takes ownership of `managed` (its deleter runs exactly once). If deleter_needs_gil,
    // the deleter runs on the interpreter thread (see release_pool.hpp). The producer's
    // descriptor is checked first (dlpack_validate.hpp): a malformed one is refused with an
    // Error naming the field and its value, after its deleter ran (on this thread).
    static Tensor adopt(DLManagedTensorVersioned *managed, bool deleter_needs_gil);

    explicit operator bool() const noexcept { return b_ != nullptr; }

    const DLTensor &dl() const;  // the raw descriptor (strides may be NULL: compact)
    int ndim() const { return dl().ndim; }
    // The producer's own arrays (no copy), valid while a handle lives.
    IntArrayRef shape() const;
    IntArrayRef strides() const;  // in elements; filled in when the descriptor's are NULL (compact)
    DLDataType dtype() const { return dl().dtype; }
    DLDevice device() const { return dl().device; }
    std::uint64_t byte_offset() const { return dl().byte_offset; }
    bool read_only() const;  // DLPack's READ_ONLY flag
    bool is_copied() const;  // DLPack's IS_COPIED flag: the producer copied for this hand-off
    std::int64_t numel() const;  // 0 for an empty tensor; Error if it overflows int64
    bool is_contiguous() const;  // compact row-major

    // Address of element [0, ..., 0]: data + byte_offset.
    void *data() const;

    // The stream the data is ready on, as DLPack's Python protocol spells streams
    // (dlpack_stream.hpp): nullopt (the default) is the device's default stream (CUDA's
    // legacy default stream), -1 says no work on the data is pending. Hand-offs make the
    // consumer's stream wait for this one. Meaningless on CPU. A tensor received from Python
    // reports the stream the host asked for (the handshake made the data ready there).
    std::optional<std::int64_t> ready_stream() const noexcept { return ready_stream_; }
    // This handle's memory, stated ready on `stream` (see ready_stream()); validated at the
    // next hand-off. Any thread; the memory is shared, not copied.
    Tensor on_stream(std::optional<std::int64_t> stream) const {
        Tensor t = *this;
        t.ready_stream_ = stream;
        return t;
    }

    // data() typed, after checking that the dtype is T's; throws Error naming both dtypes.
    template <class T>
    T *data_as() const {
        check_dtype(dtype_of<T>());
        return static_cast<T *>(data());
    }
    void check_dtype(DLDataType want) const;

    // "float32[3, 384] on cpu"
    std::string describe() const;

    struct Block;  // internal (tensor.cpp): the one allocation copies of a handle share

    // Keeps a tensor's memory — the DLManagedTensorVersioned and what it points to — alive
    // while it lives, for code that lends the memory on (DLPack export). It does not keep
    // the cached Python view (below) alive: a view lent from this memory holds a MemoryRef,
    // so the reverse would be a reference cycle. Move-only; any thread.
    class MemoryRef {
    public:
        MemoryRef() noexcept = default;
        explicit MemoryRef(Block *b) noexcept : b_(b) {}
        MemoryRef(MemoryRef &&o) noexcept : b_(o.b_) { o.b_ = nullptr; }
        MemoryRef &operator=(MemoryRef &&o) noexcept;
        MemoryRef(const MemoryRef &) = delete;
        MemoryRef &operator=(const MemoryRef &) = delete;
        ~MemoryRef();

    private:
        Block *b_ = nullptr;
    };
    // Throws Error on an empty handle.
    MemoryRef keep_memory() const;

    // Opt-in: from now on, every hand-off of this tensor (through any copy of the handle)
    // gives Python one and the same torch tensor, kept by the handles, instead of a fresh
    // view each time. The host tensor then behaves like one Python tensor object: a hand-off
    // costs a check (0.30 us, bench/dlpack) instead of building a torch tensor (1.01 us), and what
    // Python sets on the object stays (attributes, .grad, hooks, the autograd version
    // counter), as for a tensor kept in a Python variable. The view is replaced by a fresh one
    // when it no longer shows exactly this memory (tensor_python.hpp lists the checks). The
    // view holds the memory until the last handle goes; `release` then runs once the view is
    // released on the interpreter thread (asynchronously, not inside the dropping call, so it
    // must not point into a stack frame that may be gone by then), and at the latest at stop(). A Python object stored on the view that holds this tensor's
    // handle (a host function capturing it) is a cycle Python cannot see: freed at stop().
    // Any thread. Default: off (a fresh view per hand-off, released with the call).
    void keep_python_view() const;
    bool keeps_python_view() const noexcept;

    // The kept torch view, or nullptr (a borrowed PyObject*, as void* so this header needs
    // no Python.h). Interpreter thread only (GIL held).
    void *cached_python_view() const noexcept;
    // Replaces the kept view with `view` (a new strong reference is taken; nullptr clears
    // it) and releases the previous one. Interpreter thread only (GIL held).
    void set_cached_python_view(void *view) const;

private:
    // adopt() without the checks, for descriptors pybridge built itself.
    static Tensor wrap(DLManagedTensorVersioned *managed, bool deleter_needs_gil);

    Block *b_ = nullptr;  // one handle's share of the block's `handles` count
    std::optional<std::int64_t> ready_stream_;
    Block &checked() const;  // throws Error on an empty handle
};

}  // namespace pyb
