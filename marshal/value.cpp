#include "value.hpp"

#include <cstring>

namespace pyb {

const char *kind_name(Value::Kind kind) noexcept {
    switch (kind) {
        case Value::Kind::None: return "none";
        case Value::Kind::Bool: return "bool";
        case Value::Kind::Int: return "int";
        case Value::Kind::Float: return "float";
        case Value::Kind::Str: return "str";
        case Value::Kind::Bytes: return "bytes";
        case Value::Kind::List: return "list";
        case Value::Kind::Tuple: return "tuple";
        case Value::Kind::Dict: return "dict";
        case Value::Kind::Tensor: return "tensor";
        case Value::Kind::Object: return "object";
    }
    return "?";
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
const List &Value::as_list() const { return get<List>(Kind::List); }
const Tuple &Value::as_tuple() const { return get<Tuple>(Kind::Tuple); }
const Dict &Value::as_dict() const { return get<Dict>(Kind::Dict); }
const Tensor &Value::as_tensor() const { return get<Tensor>(Kind::Tensor); }
const ObjectRef &Value::as_object() const { return get<ObjectRef>(Kind::Object); }

const std::vector<Value> &Value::items() const {
    if (kind() == Kind::Tuple) return std::get<Tuple>(v_).items;
    return get<List>(Kind::List).items;
}

bool Value::operator==(const Value &other) const {
    if (kind() != other.kind()) return false;
    switch (kind()) {
        case Kind::None: return true;
        case Kind::Bool: return as_bool() == other.as_bool();
        case Kind::Int: return as_int() == other.as_int();
        case Kind::Float: {
            const double a = std::get<double>(v_), b = std::get<double>(other.v_);
            return std::memcmp(&a, &b, sizeof a) == 0;
        }
        case Kind::Str: return as_str() == other.as_str();
        case Kind::Bytes: return as_bytes() == other.as_bytes();
        case Kind::List: return as_list().items == other.as_list().items;
        case Kind::Tuple: return as_tuple().items == other.as_tuple().items;
        case Kind::Dict: return as_dict().items == other.as_dict().items;
        case Kind::Tensor: {
            const Tensor &a = as_tensor(), &b = other.as_tensor();
            return a.data() == b.data() && a.dtype() == b.dtype() && a.shape() == b.shape() &&
                   a.strides() == b.strides();
        }
        case Kind::Object: return as_object().same_object(other.as_object());
    }
    return false;
}

}  // namespace pyb
