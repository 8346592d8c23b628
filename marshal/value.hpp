// pybridge/marshal/value.hpp — the host-side value that crosses to Python and back.
//
// Mapping (host kind <-> Python type); to_python()/from_python() in convert.hpp apply it:
//
//   Kind::None    <-> None
//   Kind::Bool    <-> bool            (True stays bool, never int)
//   Kind::Int     <-> int             (int64; a Python int outside int64 is an Error)
//   Kind::Float   <-> float           (double; NaN, +-Inf, -0.0 kept bit for bit)
//   Kind::Str     <-> str             (UTF-8, embedded NUL kept; invalid UTF-8 is an Error)
//   Kind::Bytes   <-> bytes           (bytearray also converts to Bytes)
//   Kind::List    <-> list
//   Kind::Tuple   <-> tuple
//   Kind::Dict    <-> dict            (entries in insertion order; keys are any Value)
//   Kind::Tensor  <-> torch.Tensor    (DLPack, zero-copy both ways; see tensor.hpp)
//   Kind::Object  <-> anything else   (an ObjectRef handle to the same Python object)
//
// Thread contract: a Value is a plain C++ value (the Tensor and Object kinds are
// thread-safe handles); it may be built, copied and destroyed on any thread. Not
// synchronized: do not mutate one Value from two threads at once.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "../gil/object_ref.hpp"
#include "tensor.hpp"

namespace pyb {

class Value;

struct Bytes {
    std::string data;  // raw bytes, any content
    bool operator==(const Bytes &o) const { return data == o.data; }
};
struct List {
    std::vector<Value> items;
};
struct Tuple {
    std::vector<Value> items;
};
struct Dict {
    std::vector<std::pair<Value, Value>> items;  // insertion order, keys unique on the Python side
};

class Value {
public:
    enum class Kind { None, Bool, Int, Float, Str, Bytes, List, Tuple, Dict, Tensor, Object };

    Value() = default;                                  // None
    Value(std::nullptr_t) {}                            // None
    Value(bool b) : v_(b) {}                            // Bool
    Value(int i) : v_(static_cast<std::int64_t>(i)) {}  // Int
    Value(std::int64_t i) : v_(i) {}                    // Int
    Value(double d) : v_(d) {}                          // Float
    Value(const char *s) : v_(std::string(s)) {}        // Str (NUL-terminated)
    Value(std::string s) : v_(std::move(s)) {}          // Str
    Value(std::string_view s) : v_(std::string(s)) {}   // Str
    Value(pyb::Bytes b) : v_(std::move(b)) {}
    Value(pyb::List l) : v_(std::move(l)) {}
    Value(pyb::Tuple t) : v_(std::move(t)) {}
    Value(pyb::Dict d) : v_(std::move(d)) {}
    Value(pyb::Tensor t) : v_(std::move(t)) {}
    Value(ObjectRef o) : v_(std::move(o)) {}

    Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
    bool is_none() const noexcept { return kind() == Kind::None; }

    // Typed access. Each throws Error naming the expected and actual kind on a mismatch
    // (as_float() also accepts an Int).
    bool as_bool() const;
    std::int64_t as_int() const;
    double as_float() const;
    const std::string &as_str() const;
    const pyb::Bytes &as_bytes() const;
    const pyb::List &as_list() const;
    const pyb::Tuple &as_tuple() const;
    const pyb::Dict &as_dict() const;
    const pyb::Tensor &as_tensor() const;
    const ObjectRef &as_object() const;

    // The items of a List or a Tuple.
    const std::vector<Value> &items() const;

    // Structural equality. Floats compare by bits (NaN == NaN, 0.0 != -0.0); Tensors and
    // Objects compare by identity (same data pointer and layout / same Python object).
    bool operator==(const Value &other) const;
    bool operator!=(const Value &other) const { return !(*this == other); }

private:
    using Storage = std::variant<std::monostate, bool, std::int64_t, double, std::string,
                                 pyb::Bytes, pyb::List, pyb::Tuple, pyb::Dict, pyb::Tensor,
                                 ObjectRef>;
    Storage v_;

    template <class T>
    const T &get(Kind want) const;
};

const char *kind_name(Value::Kind kind) noexcept;  // "none", "bool", "int", ...

// Shorthands: list({1, 2.0, "x"}), tuple({...}), dict({{"k", 1}}).
inline Value list(std::initializer_list<Value> items) { return pyb::List{std::vector<Value>(items)}; }
inline Value tuple(std::initializer_list<Value> items) { return pyb::Tuple{std::vector<Value>(items)}; }
inline Value dict(std::initializer_list<std::pair<Value, Value>> items) {
    return pyb::Dict{std::vector<std::pair<Value, Value>>(items)};
}

}  // namespace pyb
