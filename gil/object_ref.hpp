// pybridge/gil/object_ref.hpp — an owned, thread-safe handle to one Python object.
//
// Thread contract: ObjectRef values may be copied, moved and destroyed on any thread;
// copies share one strong reference (a C++ atomic count, never the Python refcount), and
// when the last copy goes, the Python reference is released through the release pool:
// at once on the interpreter thread, queued from any other thread (never by taking the
// GIL on a host thread). Reading the PyObject* needs a Python token.
#pragma once

#include <memory>

#include "python_token.hpp"

struct _object;  // PyObject, without Python.h

namespace pyb {

class ObjectRef {
public:
    ObjectRef() = default;  // empty: holds no object

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

private:
    struct Owner {
        _object *obj;
        explicit Owner(_object *o) : obj(o) {}
        ~Owner();  // releases through the release pool
        Owner(const Owner &) = delete;
        Owner &operator=(const Owner &) = delete;
    };
    std::shared_ptr<Owner> ref_;
};

}  // namespace pyb
