// pybridge/gil/object_ref.hpp — an owned, thread-safe handle to one Python object.
//
// Thread contract: ObjectRef values may be copied, moved and destroyed on any thread;
// copies share one strong reference (a C++ atomic count, never the Python refcount), and
// when the last copy goes, the Python reference is released through the release pool:
// at once on the interpreter thread, queued from any other thread without a lock or an
// allocation (release_pool::defer; never by taking the GIL on a host thread). Reading
// the PyObject* needs a Python token.
#pragma once

#include <atomic>
#include <cstdint>

#include "python_token.hpp"
#include "release_pool.hpp"

struct _object;  // PyObject, without Python.h

namespace pyb {

class ObjectRef {
public:
    ObjectRef() noexcept = default;  // empty: holds no object

    // Takes over one strong reference the caller owns (e.g. a PyObject_Call result).
    // A null `obj` gives an empty ObjectRef.
    static ObjectRef steal(Python, _object *obj);
    // Adds a strong reference to a borrowed object.
    static ObjectRef borrow(Python, _object *obj);

    explicit operator bool() const noexcept { return static_cast<bool>(ref_); }

    // The object, borrowed: valid while this ObjectRef (or a copy) lives.
    _object *get(Python) const noexcept { return ref_ ? ref_->obj : nullptr; }
    // A new strong reference for the caller.
    _object *new_reference(Python) const noexcept;

    // Identity: same Python object (two empty handles are the same too). Safe on any
    // thread (compares pointers only).
    bool same_object(const ObjectRef &other) const noexcept {
        if (!ref_ || !other.ref_) return !ref_ && !other.ref_;
        return ref_->obj == other.ref_->obj;
    }

    ObjectRef(const ObjectRef &other) noexcept;
    ObjectRef(ObjectRef &&other) noexcept : ref_(other.ref_) { other.ref_ = nullptr; }
    ObjectRef &operator=(const ObjectRef &other) noexcept;
    ObjectRef &operator=(ObjectRef &&other) noexcept;
    ~ObjectRef();

    // Internal (object_ref.cpp): the count and the object, one allocation; it is its own
    // release record.
    struct Owner : release_pool::Deferred {
        std::atomic<std::uint32_t> refs{1};
        _object *obj = nullptr;
    };

private:
    Owner *ref_ = nullptr;
};

}  // namespace pyb
