// libFuzzer target: builds a random host Value from the input bytes, converts it to
// Python and back, and requires the result to equal the original. Any mismatch, crash,
// leak-free-path violation (AddressSanitizer) or hang is a finding.
//
// Built by the `fuzz` preset (clang, -fsanitize=fuzzer,address); `make fuzz` runs it for
// FUZZ_SECONDS (CI: 60) over the committed seed corpus in tests/fuzz/corpus.
#include <bridge/pybridge.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

pyb::Interpreter *g_interp = nullptr;  // started once, never destroyed (no static destructor)

class Reader {
public:
    Reader(const std::uint8_t *data, size_t size) : p_(data), n_(size) {}
    std::uint8_t byte() { return n_ ? (--n_, *p_++) : 0; }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
        return v;
    }
    bool empty() const { return n_ == 0; }

private:
    const std::uint8_t *p_;
    size_t n_;
};

// Valid UTF-8 from arbitrary bytes: each code point drawn from the input, surrogates skipped.
std::string utf8(Reader &r) {
    std::string s;
    const int len = r.byte() % 12;
    for (int i = 0; i < len; ++i) {
        std::uint32_t cp = ((static_cast<std::uint32_t>(r.byte()) << 8) | r.byte()) % 0x11000;
        if (r.byte() & 1) cp %= 0x80;  // mostly ASCII, NUL included
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
        if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else if (cp < 0x800) {
            s += static_cast<char>(0xc0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            s += static_cast<char>(0xe0 | (cp >> 12));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            s += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            s += static_cast<char>(0xf0 | (cp >> 18));
            s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            s += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }
    return s;
}

pyb::Value generate(Reader &r, int depth) {
    if (depth > 6 || r.empty()) return pyb::Value();
    switch (r.byte() % 14) {
        case 0: return pyb::Value();
        case 1: return pyb::Value((r.byte() & 1) != 0);
        case 2: return pyb::Value(static_cast<std::int64_t>(r.u64()));
        case 3: {
            const std::uint64_t bits = r.u64();
            double d;
            std::memcpy(&d, &bits, sizeof d);
            return pyb::Value(d);
        }
        case 4: return pyb::Value(utf8(r));
        case 5: {
            std::string b;
            for (int i = r.byte() % 16; i > 0; --i) b += static_cast<char>(r.byte());
            return pyb::Value(pyb::Bytes{b});
        }
        case 6:
        case 7: {
            std::vector<pyb::Value> items;
            for (int i = r.byte() % 5; i > 0; --i) items.push_back(generate(r, depth + 1));
            if (depth % 2) return pyb::Value(pyb::Tuple{std::move(items)});
            return pyb::Value(pyb::List{std::move(items)});
        }
        case 8: {  // distinct str keys: Python would merge equal ones
            pyb::Dict d;
            for (int i = r.byte() % 5; i > 0; --i) d.items.emplace_back("k" + std::to_string(i), generate(r, depth + 1));
            return pyb::Value(std::move(d));
        }
        case 9: {  // distinct ints
            pyb::Set s;
            for (int i = r.byte() % 5; i > 0; --i) s.items.emplace_back(static_cast<std::int64_t>(i) * 1000 + r.byte());
            return pyb::Value(std::move(s));
        }
        case 10: {  // beyond int64: 9..16 bytes, top byte non-zero
            pyb::BigInt b;
            b.negative = r.byte() & 1;
            const int len = 9 + r.byte() % 8;
            for (int i = 0; i < len; ++i) b.magnitude.push_back(r.byte());
            if (b.magnitude.back() == 0) b.magnitude.back() = 1;
            return pyb::Value(std::move(b));
        }
        case 11: {  // packed lists, as Python hands lists of floats back
            pyb::FloatList l;
            for (int i = r.byte() % 9; i > 0; --i) {
                const std::uint64_t bits = r.u64();
                double d;
                std::memcpy(&d, &bits, sizeof d);
                l.items.push_back(d);
            }
            return pyb::Value(std::move(l));
        }
        case 12: {
            pyb::IntList l;
            for (int i = r.byte() % 9; i > 0; --i) l.items.push_back(static_cast<std::int64_t>(r.u64()));
            return pyb::Value(std::move(l));
        }
        default: return pyb::symbol(utf8(r));
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    g_interp = new pyb::Interpreter(pyb::InterpreterConfig{});
    g_interp->call([](pyb::Python) { PyRun_SimpleString("import pybridge"); });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, size_t size) {
    Reader r(data, size);
    const pyb::Value original = generate(r, 0);
    const pyb::Value back = g_interp->call([&](pyb::Python py) {
        PyObject *o = pyb::to_python(py, original);
        pyb::Value v = pyb::from_python(py, o);
        Py_DECREF(o);
        return v;
    });
    if (!(back == original)) {
        std::fprintf(stderr, "round trip changed a value of kind %s\n", pyb::kind_name(original.kind()));
        std::abort();
    }
    return 0;
}
