// The C ABI's values: constructors, readers, tensors and host functions.
#include <cstring>

#include "../../marshal/dlpack_lend.hpp"
#include "../../marshal/dlpack_validate.hpp"
#include "../../marshal/host_function.hpp"
#include "handles.hpp"

namespace pyb::c {
namespace {

pyb_value *make(Value v) noexcept {
    try {
        return new pyb_value{std::move(v)};
    } catch (...) {
        fail_current();
        return nullptr;
    }
}

const Value &value_of(const pyb_value *v) { return need(v, "value").v; }

[[noreturn]] void wrong_kind(const Value &v, const char *want) {
    throw KindError(std::string("pybridge: expected ") + want + ", got a " + kind_name(v.kind()) + " value");
}

pyb_kind kind_of(Value::Kind k) {
    switch (k) {
        case Value::Kind::None: return PYB_KIND_NONE;
        case Value::Kind::Bool: return PYB_KIND_BOOL;
        case Value::Kind::Int: return PYB_KIND_INT;
        case Value::Kind::BigInt: return PYB_KIND_BIGINT;
        case Value::Kind::Float: return PYB_KIND_FLOAT;
        case Value::Kind::Str: return PYB_KIND_STR;
        case Value::Kind::Bytes: return PYB_KIND_BYTES;
        case Value::Kind::List:
        case Value::Kind::FloatList:
        case Value::Kind::IntList: return PYB_KIND_LIST;
        case Value::Kind::Tuple: return PYB_KIND_TUPLE;
        case Value::Kind::Dict: return PYB_KIND_DICT;
        case Value::Kind::Set: return PYB_KIND_SET;
        case Value::Kind::FrozenSet: return PYB_KIND_FROZENSET;
        case Value::Kind::Symbol: return PYB_KIND_SYMBOL;
        case Value::Kind::Tensor: return PYB_KIND_TENSOR;
        case Value::Kind::Function: return PYB_KIND_FUNCTION;
        case Value::Kind::Object: return PYB_KIND_OBJECT;
    }
    return PYB_KIND_NONE;
}

// Takes ownership of `item` (consumed), whatever happens.
std::unique_ptr<pyb_value> take(pyb_value *item) { return std::unique_ptr<pyb_value>(item); }

// The mutable items of a value this handle owns exclusively (Values deep-copy).
template <class T>
T &mutable_as(pyb_value *v) {
    return const_cast<T &>(*v->v.get_if<T>());
}

// Well-formed UTF-8 as Python's decoder (and Unicode's Table 3-7) accepts it: no overlong
// forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF. Refused here, at the
// constructor, rather than as a UnicodeDecodeError from a later call.
void check_utf8(const char *s, size_t n) {
    const auto *u = reinterpret_cast<const unsigned char *>(s);
    for (size_t i = 0; i < n;) {
        const unsigned char c = u[i];
        size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
        if (c < 0x80) len = 1;
        else if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;  // overlong below U+0800
            if (c == 0xED) hi = 0x9F;  // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;  // overlong below U+10000
            if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
        }
        bool ok = len != 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; ++k) {
            const unsigned char b = u[i + k];
            ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        }
        if (!ok) throw ArgumentError("pybridge: string is not valid UTF-8 at byte " + std::to_string(i));
        i += len;
    }
}

// A tensor the C side hands over (consumed): every field checked before it is read
// (dlpack_validate.hpp), as for Python producers.
Tensor adopt_checked(DLManagedTensorVersioned *m) {
    static_assert(PYB_MAX_RANK == pyb::kMaxTensorRank, "pybridge.h's PYB_MAX_RANK is the checker's");
    if (!m) throw ArgumentError("pybridge: managed tensor is NULL");
    std::string problem;
    if (m->version.major != DLPACK_MAJOR_VERSION)
        problem = "version.major=" + std::to_string(m->version.major) + " (pybridge reads DLPack " +
                  std::to_string(DLPACK_MAJOR_VERSION) + ".x)";
    else
        problem = pyb::dlpack_problem(m->dl_tensor);
    if (!problem.empty()) {
        if (m->deleter) m->deleter(m);
        throw ArgumentError("pybridge: pyb_tensor: " + problem);
    }
    return Tensor::adopt(m, /*deleter_needs_gil=*/false);
}

// The same handle passed twice would be consumed twice, or moved into itself: refused,
// and nothing is consumed.
pyb_status refuse_same_handle(const char *what) {
    return guard([&] { throw ArgumentError(std::string("pybridge: ") + what); });
}

}  // namespace
}  // namespace pyb::c

using namespace pyb::c;
using pyb::Value;

extern "C" {

pyb_value *pyb_none(void) { return make(Value()); }
pyb_value *pyb_bool(int v) { return make(Value(v != 0)); }
pyb_value *pyb_int(int64_t v) { return make(Value(static_cast<std::int64_t>(v))); }
pyb_value *pyb_float(double v) { return make(Value(v)); }
pyb_value *pyb_str(const char *s, size_t n) {
    try {
        if (!s && n) throw ArgumentError("pybridge: pyb_str given NULL with a non-zero size");
        check_utf8(s, n);
        return make(Value(std::string(s ? s : "", n)));
    } catch (...) {
        fail_current();
        return nullptr;
    }
}
pyb_value *pyb_bytes(const void *data, size_t n) {
    if (!data && n) {
        fail(PYB_ERROR_ARGUMENT, "pybridge: pyb_bytes given NULL with a non-zero size");
        return nullptr;
    }
    try {
        return make(Value(pyb::Bytes{std::string(static_cast<const char *>(data), n)}));
    } catch (...) {
        fail_current();
        return nullptr;
    }
}
pyb_value *pyb_symbol(const char *name) {
    try {
        const char *n = &need(name, "symbol name");
        check_utf8(n, std::strlen(n));
        return make(Value(pyb::Symbol{n}));
    } catch (...) {
        fail_current();
        return nullptr;
    }
}
pyb_value *pyb_list(void) { return make(Value(pyb::List{})); }
pyb_value *pyb_tuple(void) { return make(Value(pyb::Tuple{})); }
pyb_value *pyb_dict(void) { return make(Value(pyb::Dict{})); }
pyb_value *pyb_value_copy(const pyb_value *v) {
    try {
        return make(value_of(v));
    } catch (...) {
        fail_current();
        return nullptr;
    }
}

pyb_status pyb_append(pyb_value *seq, pyb_value *item) {
    if (item && item == seq) return refuse_same_handle("cannot append a value to itself (item is the sequence's own handle; append a pyb_value_copy)");
    auto owned = take(item);
    return guard([&] {
        need(seq, "sequence");
        need(item, "item");
        const Value::Kind k = seq->v.kind();
        if (k == Value::Kind::List) mutable_as<pyb::List>(seq).items.push_back(std::move(owned->v));
        else if (k == Value::Kind::Tuple) mutable_as<pyb::Tuple>(seq).items.push_back(std::move(owned->v));
        else if (k == Value::Kind::FloatList || k == Value::Kind::IntList) {
            pyb::List generic;  // a packed list from Python: unpack before appending
            for (size_t i = 0; i < seq->v.list_size(); ++i) generic.items.push_back(seq->v.list_at(i));
            generic.items.push_back(std::move(owned->v));
            seq->v = Value(std::move(generic));
        } else {
            wrong_kind(seq->v, "a list or tuple");
        }
    });
}

pyb_status pyb_dict_set(pyb_value *dict, pyb_value *key, pyb_value *value) {
    if ((key && (key == dict || key == value)) || (value && value == dict))
        return refuse_same_handle("dict, key and value must be three different handles (each key and value is consumed; pass a pyb_value_copy)");
    auto k = take(key), v = take(value);
    return guard([&] {
        need(dict, "dict");
        need(key, "key");
        need(value, "value");
        if (dict->v.kind() != Value::Kind::Dict) wrong_kind(dict->v, "a dict");
        mutable_as<pyb::Dict>(dict).items.emplace_back(std::move(k->v), std::move(v->v));
    });
}

pyb_status pyb_tensor(DLManagedTensorVersioned *managed, pyb_value **out) {
    return guard([&] {
        if (!out) {
            if (managed && managed->deleter) managed->deleter(managed);
            throw ArgumentError("pybridge: out is NULL");
        }
        *out = nullptr;
        pyb::Tensor t = adopt_checked(managed);
        *out = new pyb_value{Value(std::move(t))};
    });
}

pyb_status pyb_tensor_keep_python_view(pyb_value *tensor) {
    return guard([&] {
        const Value &x = value_of(tensor);
        if (x.kind() != Value::Kind::Tensor) wrong_kind(x, "a tensor");
        x.as_tensor().keep_python_view();
    });
}

pyb_value *pyb_object_value(const pyb_object *object) {
    try {
        return make(Value(need(object, "object").o));
    } catch (...) {
        fail_current();
        return nullptr;
    }
}

pyb_value *pyb_function(const char *name, pyb_host_fn fn, void *user, void (*destroy)(void *)) {
    try {
        need(fn, "function pointer");
        // Owns `user`: destroy(user) runs when the last copy of the HostFunction goes.
        auto state = std::shared_ptr<void>(user, [destroy](void *u) {
            if (destroy) destroy(u);
        });
        const std::string fname = name ? name : "host_function";
        auto host = pyb::HostFunction::make(fname, [fn, state, fname](const pyb::Args &args, const pyb::Kwargs &kwargs) {
            // A failure of the function's, as its own would be (HostError; PYB_ERROR_HOST).
            if (!kwargs.empty())
                throw std::runtime_error("pybridge: host function '" + fname + "' was called with keyword arguments (C host functions take positional arguments only)");
            std::vector<pyb_value> holders;
            holders.reserve(args.size());
            for (const Value &a : args) holders.push_back(pyb_value{a});
            std::vector<const pyb_value *> ptrs;
            for (const pyb_value &h : holders) ptrs.push_back(&h);
            pyb_value *result = nullptr;
            pyb_error_clear();
            const pyb_status st = fn(state.get(), ptrs.data(), ptrs.size(), &result);
            std::unique_ptr<pyb_value> owned(result);
            if (st != PYB_OK) {
                const pyb_error *e = pyb_last_error();
                throw std::runtime_error("pybridge: host function '" + fname + "' failed (status " +
                                         std::to_string(static_cast<int>(st)) + ")" +
                                         (e && *pyb_error_message(e) ? std::string(": ") + pyb_error_message(e) : ""));
            }
            return owned ? std::move(owned->v) : Value();
        });
        return make(Value(std::move(host)));
    } catch (...) {
        fail_current();
        if (destroy) destroy(user);
        return nullptr;
    }
}

void pyb_value_free(pyb_value *v) { delete v; }

pyb_kind pyb_value_kind(const pyb_value *v) { return v ? kind_of(v->v.kind()) : PYB_KIND_NONE; }

pyb_status pyb_value_bool(const pyb_value *v, int *out) {
    return guard([&] {
        const Value &x = value_of(v);
        if (x.kind() != Value::Kind::Bool) wrong_kind(x, "a bool");
        need(out, "out") = x.as_bool() ? 1 : 0;
    });
}
pyb_status pyb_value_int(const pyb_value *v, int64_t *out) {
    return guard([&] {
        const Value &x = value_of(v);
        if (x.kind() != Value::Kind::Int) wrong_kind(x, "an int");
        need(out, "out") = x.as_int();
    });
}
pyb_status pyb_value_float(const pyb_value *v, double *out) {
    return guard([&] {
        const Value &x = value_of(v);
        if (x.kind() != Value::Kind::Float && x.kind() != Value::Kind::Int) wrong_kind(x, "a float");
        need(out, "out") = x.as_float();
    });
}
pyb_status pyb_value_str(const pyb_value *v, const char **data, size_t *size) {
    return guard([&] {
        const Value &x = value_of(v);
        const std::string *s = nullptr;
        if (auto *str = x.get_if<std::string>()) s = str;
        else if (auto *b = x.get_if<pyb::Bytes>()) s = &b->data;
        else if (auto *sym = x.get_if<pyb::Symbol>()) s = &sym->name;
        else if (x.kind() == Value::Kind::BigInt) {
            v->text = x.as_bigint().to_string();  // decimal, kept with the handle
            s = &v->text;
        }
        if (!s) wrong_kind(x, "a str, bytes, symbol or big int");
        need(data, "data") = s->c_str();
        if (size) *size = s->size();
    });
}
pyb_status pyb_value_len(const pyb_value *v, size_t *out) {
    return guard([&] {
        const Value &x = value_of(v);
        size_t n = 0;
        if (x.is_list()) n = x.list_size();
        else if (x.kind() == Value::Kind::Tuple || x.kind() == Value::Kind::Set || x.kind() == Value::Kind::FrozenSet)
            n = x.items().size();
        else if (x.kind() == Value::Kind::Dict) n = x.as_dict().items.size();
        else wrong_kind(x, "a list, tuple, dict, set or frozenset");
        need(out, "out") = n;
    });
}
pyb_status pyb_value_item(const pyb_value *v, size_t index, pyb_value **out) {
    return guard([&] {
        const Value &x = value_of(v);
        need(out, "out") = nullptr;
        size_t n = 0;
        if (x.is_list()) n = x.list_size();
        else if (x.kind() == Value::Kind::Tuple || x.kind() == Value::Kind::Set || x.kind() == Value::Kind::FrozenSet)
            n = x.items().size();
        else wrong_kind(x, "a list, tuple, set or frozenset");
        if (index >= n)
            throw ArgumentError("pybridge: index " + std::to_string(index) + " out of range (size " + std::to_string(n) + ")");
        *out = new pyb_value{x.is_list() ? x.list_at(index) : x.items()[index]};
    });
}
pyb_status pyb_value_dict_entry(const pyb_value *v, size_t index, pyb_value **key, pyb_value **item) {
    return guard([&] {
        const Value &x = value_of(v);
        need(key, "key");
        need(item, "item");
        *key = *item = nullptr;
        if (x.kind() != Value::Kind::Dict) wrong_kind(x, "a dict");
        const auto &entries = x.as_dict().items;
        if (index >= entries.size())
            throw ArgumentError("pybridge: index " + std::to_string(index) + " out of range (size " +
                                std::to_string(entries.size()) + ")");
        auto k = std::make_unique<pyb_value>(pyb_value{entries[index].first});
        *item = new pyb_value{entries[index].second};
        *key = k.release();
    });
}
pyb_status pyb_value_tensor(const pyb_value *v, DLManagedTensorVersioned **out) {
    return guard([&] {
        const Value &x = value_of(v);
        need(out, "out") = nullptr;
        if (x.kind() != Value::Kind::Tensor) wrong_kind(x, "a tensor");
        const pyb::Tensor &t = x.as_tensor();
        std::uint64_t flags = 0;
        if (t.read_only()) flags |= DLPACK_FLAG_BITMASK_READ_ONLY;
        if (t.is_copied()) flags |= DLPACK_FLAG_BITMASK_IS_COPIED;
        *out = pyb::detail::lend_versioned(t, flags, pyb::detail::Borrower::Host);
    });
}
pyb_status pyb_value_object(const pyb_value *v, pyb_object **out) {
    return guard([&] {
        const Value &x = value_of(v);
        need(out, "out") = nullptr;
        if (x.kind() != Value::Kind::Object) wrong_kind(x, "an object");
        *out = new pyb_object{x.as_object()};
    });
}

}  // extern "C"
