// pybridge/marshal/value.hpp — the host-side value that crosses to Python and back.
//
// Mapping (host kind <-> Python type); to_python()/from_python() in convert.hpp apply it:
//
//   Kind::None      <-> None
//   Kind::Bool      <-> bool             (True stays bool, never int)
//   Kind::Int       <-> int              (fits int64; also numpy/torch integer scalars in)
//   Kind::BigInt    <-> int              (outside int64: sign + magnitude, never wrapped)
//   Kind::Float     <-> float            (double; NaN, +-Inf, -0.0 kept bit for bit; numpy/torch float scalars in)
//   Kind::Str       <-> str              (UTF-8, embedded NUL kept; invalid UTF-8 / lone surrogates are errors)
//   Kind::Bytes     <-> bytes            (bytearray and memoryview also convert to Bytes)
//   Kind::List      <-> list
//   Kind::FloatList <-> list             (packed: every item an exact float; 8 bytes per item)
//   Kind::IntList   <-> list             (packed: every item an exact int within int64)
//   Kind::Tuple     <-> tuple
//   Kind::Dict      <-> dict             (entries in insertion order; keys are any hashable Value)
//   Kind::Set       <-> set              (order unspecified; equality ignores order)
//   Kind::FrozenSet <-> frozenset
//   Kind::Symbol    <-> pybridge.Symbol  (a str subclass; Simple's :f32, :cuda)
//   Kind::Tensor    <-> torch.Tensor     (DLPack, zero-copy both ways; see tensor.hpp; sparse,
//                                         meta and other non-DLPack tensors stay Objects)
//   Kind::Function  <-> a Python callable running host code (see host_function.hpp)
//   Kind::Object    <-> anything else    (an ObjectRef handle to the same Python object)
//
// Packed lists: a Python list of one or more items that are all exact floats (or all exact
// ints within int64) arrives as a FloatList (IntList): one std::vector<double> (int64_t)
// instead of one Value per item, which is what makes a 1e6-item numeric list cheap. Hosts
// may build them too. A packed list equals the List of the same items (operator==), and
// is_list()/list_size()/list_at() read all three list kinds alike.
//
// Thread contract: a Value is a plain C++ value (the Tensor, Function and Object kinds are
// thread-safe handles); it may be built, copied and destroyed on any thread. Not
// synchronized: do not mutate one Value from two threads at once.
#pragma once

#include <cstdint>
#include <type_traits>
#include <initializer_list>
#include <memory>
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
struct FloatList {
    std::vector<double> items;
};
struct IntList {
    std::vector<std::int64_t> items;
};
struct Tuple {
    std::vector<Value> items;
};
struct Dict {
    std::vector<std::pair<Value, Value>> items;  // insertion order, keys unique on the Python side
};
struct Set {
    std::vector<Value> items;  // hashable values; order unspecified
};
struct FrozenSet {
    std::vector<Value> items;
};
// An integer outside int64: sign and magnitude (little-endian bytes, no leading zeros).
struct BigInt {
    bool negative = false;
    std::vector<std::uint8_t> magnitude;
    bool operator==(const BigInt &o) const { return negative == o.negative && magnitude == o.magnitude; }
    std::string to_string() const;  // decimal
};
// A Simple symbol (:f32 -> Symbol{"f32"}).
struct Symbol {
    std::string name;
    bool operator==(const Symbol &o) const { return name == o.name; }
};
class HostFunction;  // host_function.hpp

class Value {
public:
    enum class Kind {
        None, Bool, Int, BigInt, Float, Str, Bytes, List, Tuple, Dict, Set, FrozenSet, Symbol, Tensor, Function, Object,
        FloatList, IntList
    };

    Value() = default;                                  // None
    // Containers nested any depth deep are copied, compared and destroyed without deep
    // recursion (see value.cpp): a host may build a list 1e6 levels deep.
    Value(const Value &other) : v_(shallow_copy(other)) {
        if (other.is_container()) copy_containers(other);
    }
    Value(Value &&) noexcept = default;
    Value &operator=(const Value &other) {
        if (this != &other) *this = Value(other);
        return *this;
    }
    Value &operator=(Value &&) noexcept = default;
    ~Value() {
        if (is_container()) release_container();
    }
    Value(std::nullptr_t) {}                            // None
    Value(bool b) : v_(b) {}                      // Bool
    // Any integer type: Int, or BigInt for an unsigned value above INT64_MAX.
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                            !std::is_same_v<T, char>, int> = 0>
    Value(T i) {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
            if (i > static_cast<T>(INT64_MAX)) {
                pyb::BigInt b;
                for (T v = i; v; v >>= 8) b.magnitude.push_back(static_cast<std::uint8_t>(v & 0xff));
                v_ = std::move(b);
                return;
            }
        }
        v_ = static_cast<std::int64_t>(i);
    }
    Value(double d) : v_(d) {}                    // Float
    Value(const char *s) : v_(std::string(s)) {}  // Str (NUL-terminated)
    Value(char *s) : v_(std::string(s)) {}        // Str (NUL-terminated)
    // Any other pointer would silently become a Bool: refused at compile time.
    template <class T>
    Value(T *) = delete;
    Value(std::string s) : v_(std::move(s)) {}          // Str
    Value(std::string_view s) : v_(std::string(s)) {}   // Str
    Value(pyb::Bytes b) : v_(std::move(b)) {}
    Value(pyb::List l) : v_(std::move(l)) {}
    Value(pyb::FloatList l) : v_(std::move(l)) {}
    Value(pyb::IntList l) : v_(std::move(l)) {}
    Value(pyb::Tuple t) : v_(std::move(t)) {}
    Value(pyb::Dict d) : v_(std::move(d)) {}
    Value(pyb::Tensor t) : v_(std::move(t)) {}
    Value(ObjectRef o) : v_(std::move(o)) {}
    Value(pyb::BigInt b) : v_(std::move(b)) {}
    Value(pyb::Set s) : v_(std::move(s)) {}
    Value(pyb::FrozenSet s) : v_(std::move(s)) {}
    Value(pyb::Symbol s) : v_(std::move(s)) {}
    Value(std::shared_ptr<const HostFunction> f);

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
    const pyb::FloatList &as_float_list() const;
    const pyb::IntList &as_int_list() const;
    const pyb::Tuple &as_tuple() const;
    const pyb::Dict &as_dict() const;
    const pyb::Tensor &as_tensor() const;
    const ObjectRef &as_object() const;
    const pyb::BigInt &as_bigint() const;
    const pyb::Set &as_set() const;
    const pyb::FrozenSet &as_frozenset() const;
    const pyb::Symbol &as_symbol() const;
    const std::shared_ptr<const HostFunction> &as_function() const;

    // Unchecked access for hot loops: the alternative if the Value holds a T, else null.
    // T is one of bool, std::int64_t, double, std::string, Bytes, List, Tuple, Dict, ...
    template <class T>
    const T *get_if() const noexcept {
        return std::get_if<T>(&v_);
    }

    // The items of a List, Tuple, Set or FrozenSet (not of a packed list: see list_at).
    const std::vector<Value> &items() const;

    // Any list kind (List, FloatList, IntList): whether this is one, its size, and item
    // `i` as a Value (a copy). list_size/list_at throw Error for other kinds or i >= size.
    bool is_list() const noexcept {
        return kind() == Kind::List || kind() == Kind::FloatList || kind() == Kind::IntList;
    }
    size_t list_size() const;
    Value list_at(size_t i) const;

    // Structural equality. Floats compare by bits (NaN == NaN, 0.0 != -0.0); sets ignore
    // order; Tensors, Functions and Objects compare by identity (same data pointer and layout
    // / same function / same Python object).
    bool operator==(const Value &other) const;
    bool operator!=(const Value &other) const { return !(*this == other); }

private:
    // Alternative order == Kind order.
    using Storage = std::variant<std::monostate, bool, std::int64_t, pyb::BigInt, double, std::string,
                                 pyb::Bytes, pyb::List, pyb::Tuple, pyb::Dict, pyb::Set, pyb::FrozenSet,
                                 pyb::Symbol, pyb::Tensor, std::shared_ptr<const HostFunction>, ObjectRef,
                                 pyb::FloatList, pyb::IntList>;
    Storage v_;

    template <class T>
    const T &get(Kind want) const;
    // List, Tuple, Dict, Set, FrozenSet: the kinds that hold Values (packed lists do not).
    bool is_container() const noexcept {
        return v_.index() >= static_cast<size_t>(Kind::List) && v_.index() <= static_cast<size_t>(Kind::FrozenSet);
    }
    // The copy of a non-container; None for a container (copy_containers fills it in).
    static Storage shallow_copy(const Value &other) {
        if (other.is_container()) return Storage{};
        return other.v_;
    }
    void copy_containers(const Value &root);
    // operator=='s walk: the items of one pair of lists/tuples (Values) or dicts (entries,
    // key then value: 2 per entry) still to compare.
    struct EqualFrame {
        const void *a, *b;
        size_t next, end;
        bool dict;
        std::pair<const Value *, const Value *> pair(size_t i) const noexcept;
    };
    // Compares everything but the items of ordered containers, which it opens a frame for.
    bool equal_here(const Value &other, std::vector<EqualFrame> &open) const;
    void release_container() noexcept;
};

const char *kind_name(Value::Kind kind) noexcept;

using Args = std::vector<Value>;                            // positional arguments
using Kwargs = std::vector<std::pair<std::string, Value>>;  // keyword arguments, in order  // "none", "bool", "int", ...

// Shorthands: list({1, 2.0, "x"}), tuple({...}), dict({{"k", 1}}), symbol("f32").
inline Value list(std::initializer_list<Value> items) { return pyb::List{std::vector<Value>(items)}; }
inline Value tuple(std::initializer_list<Value> items) { return pyb::Tuple{std::vector<Value>(items)}; }
inline Value dict(std::initializer_list<std::pair<Value, Value>> items) {
    return pyb::Dict{std::vector<std::pair<Value, Value>>(items)};
}
inline Value set(std::initializer_list<Value> items) { return pyb::Set{std::vector<Value>(items)}; }
inline Value symbol(std::string name) { return pyb::Symbol{std::move(name)}; }

}  // namespace pyb
