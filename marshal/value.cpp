#include "value.hpp"

#include <cstring>
#include <tuple>
#include <type_traits>

namespace pyb {

const char *kind_name(Value::Kind kind) noexcept {
    switch (kind) {
        case Value::Kind::None: return "none";
        case Value::Kind::Bool: return "bool";
        case Value::Kind::Int: return "int";
        case Value::Kind::BigInt: return "bigint";
        case Value::Kind::Float: return "float";
        case Value::Kind::Str: return "str";
        case Value::Kind::Bytes: return "bytes";
        case Value::Kind::List: return "list";
        case Value::Kind::Tuple: return "tuple";
        case Value::Kind::Dict: return "dict";
        case Value::Kind::Set: return "set";
        case Value::Kind::FrozenSet: return "frozenset";
        case Value::Kind::Symbol: return "symbol";
        case Value::Kind::Function: return "function";
        case Value::Kind::Tensor: return "tensor";
        case Value::Kind::Object: return "object";
        case Value::Kind::FloatList: return "float list";
        case Value::Kind::IntList: return "int list";
    }
    return "?";
}

// CPython's "trashcan": nested containers are destroyed recursively only up to a fixed depth;
// deeper ones are parked on a per-thread list that the outermost destructor empties in a
// loop. A host Value nested 100,000 deep is freed without overflowing the stack.
void Value::release_container() noexcept {
    constexpr int kMaxRecursion = 200;
    thread_local int depth = 0;
    thread_local std::vector<Storage> parked;
    if (depth >= kMaxRecursion) {
        parked.push_back(std::move(v_));  // bad_alloc here terminates: noexcept destructor
        return;
    }
    ++depth;
    v_ = std::monostate{};  // destroys the children, which may park deeper levels
    --depth;
    if (depth != 0) return;
    while (!parked.empty()) {
        Storage s = std::move(parked.back());
        parked.pop_back();
        ++depth;
        s = std::monostate{};
        --depth;
    }
}

namespace {
// Item i of a frame's items: Values (lists, tuples, sets), or a dict's entries, key then
// value (2 per entry). V is Value or const Value.
template <class V, class Items>
V *frame_item(Items *items, bool dict, size_t i) noexcept {
    if (!dict) return static_cast<V *>(items) + i;
    using Entry = std::conditional_t<std::is_const_v<V>, const std::pair<Value, Value>, std::pair<Value, Value>>;
    Entry *e = static_cast<Entry *>(items) + i / 2;
    return i % 2 ? &e->second : &e->first;
}
}  // namespace

// A deep copy without recursion, one frame per open container (as operator==): each
// container is created with its items as None, then filled in item by item (the item
// vectors are never resized after, so the pointers into them stay valid).
void Value::copy_containers(const Value &root) {
    struct Frame {
        void *to;
        const void *from;
        size_t next, end;
        bool dict;
    };
    std::vector<Frame> open;
    const auto open_items = [&open](std::vector<Value> &to, const std::vector<Value> &from) {
        to.resize(from.size());
        if (!from.empty()) open.push_back({to.data(), from.data(), 0, from.size(), false});
    };
    Value *to = this;
    const Value *from = &root;
    for (;;) {
        switch (from->kind()) {
            case Kind::List: open_items(std::get<List>(to->v_ = List{}).items, std::get<List>(from->v_).items); break;
            case Kind::Tuple: open_items(std::get<Tuple>(to->v_ = Tuple{}).items, std::get<Tuple>(from->v_).items); break;
            case Kind::Set: open_items(std::get<Set>(to->v_ = Set{}).items, std::get<Set>(from->v_).items); break;
            case Kind::FrozenSet:
                open_items(std::get<FrozenSet>(to->v_ = FrozenSet{}).items, std::get<FrozenSet>(from->v_).items);
                break;
            case Kind::Dict: {
                auto &to_items = std::get<Dict>(to->v_ = Dict{}).items;
                const auto &from_items = std::get<Dict>(from->v_).items;
                to_items.resize(from_items.size());
                if (!from_items.empty()) open.push_back({to_items.data(), from_items.data(), 0, 2 * from_items.size(), true});
                break;
            }
            default: to->v_ = from->v_;  // not a container: a flat copy
        }
        while (!open.empty() && open.back().next == open.back().end) open.pop_back();
        if (open.empty()) return;
        Frame &f = open.back();
        const size_t i = f.next++;
        to = frame_item<Value>(f.to, f.dict, i);
        from = frame_item<const Value>(f.from, f.dict, i);
    }
}

std::pair<const Value *, const Value *> Value::EqualFrame::pair(size_t i) const noexcept {
    return {frame_item<const Value>(a, dict, i), frame_item<const Value>(b, dict, i)};
}

template <class T>
const T &Value::get(Kind want) const {
    if (const T *p = std::get_if<T>(&v_)) return *p;
    throw Error(std::string("pybridge: expected a ") + kind_name(want) + " value, got " +
                kind_name(kind()));
}

bool Value::as_bool() const { return get<bool>(Kind::Bool); }
std::int64_t Value::as_int() const { return get<std::int64_t>(Kind::Int); }
double Value::as_float() const {
    if (kind() == Kind::Int) return static_cast<double>(std::get<std::int64_t>(v_));
    return get<double>(Kind::Float);
}
const std::string &Value::as_str() const { return get<std::string>(Kind::Str); }
const Bytes &Value::as_bytes() const { return get<Bytes>(Kind::Bytes); }
const List &Value::as_list() const {
    if (kind() == Kind::FloatList || kind() == Kind::IntList) {
        throw Error(std::string("pybridge: expected a list value, got a packed ") + kind_name(kind()) +
                    " (read it with as_float_list()/as_int_list(), or list_size()/list_at())");
    }
    return get<List>(Kind::List);
}
const FloatList &Value::as_float_list() const { return get<FloatList>(Kind::FloatList); }
const IntList &Value::as_int_list() const { return get<IntList>(Kind::IntList); }

size_t Value::list_size() const {
    switch (kind()) {
        case Kind::FloatList: return std::get<FloatList>(v_).items.size();
        case Kind::IntList: return std::get<IntList>(v_).items.size();
        default: return get<List>(Kind::List).items.size();
    }
}

Value Value::list_at(size_t i) const {
    const size_t n = list_size();
    if (i >= n) {
        throw Error("pybridge: list index " + std::to_string(i) + " out of range (size " + std::to_string(n) + ")");
    }
    switch (kind()) {
        case Kind::FloatList: return std::get<FloatList>(v_).items[i];
        case Kind::IntList: return std::get<IntList>(v_).items[i];
        default: return std::get<List>(v_).items[i];
    }
}
const Tuple &Value::as_tuple() const { return get<Tuple>(Kind::Tuple); }
const Dict &Value::as_dict() const { return get<Dict>(Kind::Dict); }
const Tensor &Value::as_tensor() const { return get<Tensor>(Kind::Tensor); }
const ObjectRef &Value::as_object() const { return get<ObjectRef>(Kind::Object); }
const BigInt &Value::as_bigint() const { return get<BigInt>(Kind::BigInt); }
const Set &Value::as_set() const { return get<Set>(Kind::Set); }
const FrozenSet &Value::as_frozenset() const { return get<FrozenSet>(Kind::FrozenSet); }
const Symbol &Value::as_symbol() const { return get<Symbol>(Kind::Symbol); }
const std::shared_ptr<const HostFunction> &Value::as_function() const {
    return get<std::shared_ptr<const HostFunction>>(Kind::Function);
}

Value::Value(std::shared_ptr<const HostFunction> f) : v_(std::move(f)) {
    if (!std::get<std::shared_ptr<const HostFunction>>(v_)) throw Error("pybridge: null host function");
}

std::string BigInt::to_string() const {
    // Repeated division of the little-endian magnitude by 10.
    std::vector<std::uint8_t> m = magnitude;
    std::string digits;
    while (!m.empty()) {
        unsigned rem = 0;
        for (size_t i = m.size(); i-- > 0;) {
            const unsigned cur = (rem << 8) | m[i];
            m[i] = static_cast<std::uint8_t>(cur / 10);
            rem = cur % 10;
        }
        digits.push_back(static_cast<char>('0' + rem));
        while (!m.empty() && m.back() == 0) m.pop_back();
    }
    if (digits.empty()) digits = "0";
    if (negative) digits.push_back('-');
    return std::string(digits.rbegin(), digits.rend());
}

namespace {
// Unordered comparison for sets: every item of `a` matches a distinct item of `b`.
bool same_items_unordered(const std::vector<Value> &a, const std::vector<Value> &b) {
    if (a.size() != b.size()) return false;
    std::vector<bool> used(b.size(), false);
    for (const Value &x : a) {
        bool found = false;
        for (size_t j = 0; j < b.size() && !found; ++j) {
            if (!used[j] && x == b[j]) used[j] = found = true;
        }
        if (!found) return false;
    }
    return true;
}
}  // namespace

const std::vector<Value> &Value::items() const {
    switch (kind()) {
        case Kind::Tuple: return std::get<Tuple>(v_).items;
        case Kind::Set: return std::get<Set>(v_).items;
        case Kind::FrozenSet: return std::get<FrozenSet>(v_).items;
        default: return get<List>(Kind::List).items;
    }
}

namespace {
// Packed lists hold the same items as the List that the host would build item by item.
bool same_floats(const std::vector<double> &a, const std::vector<double> &b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}
bool same_list(const Value &a, const Value &b) {
    const size_t n = a.list_size();
    if (n != b.list_size()) return false;
    for (size_t i = 0; i < n; ++i) {
        if (a.list_at(i) != b.list_at(i)) return false;
    }
    return true;
}
}  // namespace

// Iterative, as the copy, with one frame per open container (memory grows with the depth,
// not the width: a 100,000-item list compares with one frame). Set items are matched with
// ==, each call iterative in turn: only sets nested in sets recurse.
bool Value::operator==(const Value &other) const {
    std::vector<EqualFrame> open;  // allocates only for a non-empty ordered container
    const Value *a = this, *b = &other;
    for (;;) {
        if (!a->equal_here(*b, open)) return false;
        while (!open.empty() && open.back().next == open.back().end) open.pop_back();
        if (open.empty()) return true;
        std::tie(a, b) = open.back().pair(open.back().next++);
    }
}

bool Value::equal_here(const Value &other, std::vector<EqualFrame> &open) const {
    const auto open_items = [&open](const std::vector<Value> &x, const std::vector<Value> &y) {
        if (x.size() != y.size()) return false;
        if (!x.empty()) open.push_back({x.data(), y.data(), 0, x.size(), false});
        return true;
    };
    if (kind() != other.kind()) return is_list() && other.is_list() && same_list(*this, other);
    switch (kind()) {
        case Kind::None: return true;
        case Kind::Bool: return as_bool() == other.as_bool();
        case Kind::Int: return as_int() == other.as_int();
        case Kind::BigInt: return as_bigint() == other.as_bigint();
        case Kind::Float: {
            const double a = std::get<double>(v_), b = std::get<double>(other.v_);
            return std::memcmp(&a, &b, sizeof a) == 0;
        }
        case Kind::Str: return as_str() == other.as_str();
        case Kind::Bytes: return as_bytes() == other.as_bytes();
        case Kind::List: return open_items(as_list().items, other.as_list().items);
        case Kind::Tuple: return open_items(as_tuple().items, other.as_tuple().items);
        case Kind::Dict: {
            const auto &x = as_dict().items, &y = other.as_dict().items;
            if (x.size() != y.size()) return false;
            if (!x.empty()) open.push_back({x.data(), y.data(), 0, 2 * x.size(), true});
            return true;
        }
        case Kind::Set: return same_items_unordered(as_set().items, other.as_set().items);
        case Kind::FrozenSet: return same_items_unordered(as_frozenset().items, other.as_frozenset().items);
        case Kind::Symbol: return as_symbol() == other.as_symbol();
        case Kind::Function: return as_function() == other.as_function();
        case Kind::Tensor: {
            const Tensor &a = as_tensor(), &b = other.as_tensor();
            if (!a || !b) return !a && !b;
            return a.data() == b.data() && a.dtype() == b.dtype() && a.shape() == b.shape() &&
                   a.strides() == b.strides();
        }
        case Kind::Object: return as_object().same_object(other.as_object());
        case Kind::FloatList: return same_floats(as_float_list().items, other.as_float_list().items);
        case Kind::IntList: return as_int_list().items == other.as_int_list().items;
    }
    return false;
}

}  // namespace pyb
