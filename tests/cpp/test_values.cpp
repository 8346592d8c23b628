// Values: every kind of the mapping table crosses to Python as the right type and comes
// back equal; boundaries and refusals are clean errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "shared_bridge.hpp"

using pyb_test::bridge;

namespace {

pyb::ObjectRef identity() {
    static pyb::ObjectRef fn = bridge().eval("lambda x: x").as_object();
    return fn;
}
pyb::ObjectRef type_name() {
    static pyb::ObjectRef fn = bridge().eval("lambda x: type(x).__name__").as_object();
    return fn;
}

pyb::Value round_trip(const pyb::Value &v) { return bridge().call(identity(), {v}); }
std::string python_type(const pyb::Value &v) { return bridge().call(type_name(), {v}).as_str(); }

struct Case {
    const char *name;
    pyb::Value value;
    const char *python_type;
};

}  // namespace

TEST(Values, EveryKindRoundTripsAsTheDocumentedPythonType) {
    // (More kinds below: big ints, sets, symbols, host functions.)
    const Case cases[] = {
        {"none", pyb::Value(), "NoneType"},
        {"true", pyb::Value(true), "bool"},
        {"false", pyb::Value(false), "bool"},
        {"int", pyb::Value(std::int64_t{-12345678901234}), "int"},
        {"float", pyb::Value(3.25), "float"},
        {"str", pyb::Value("héllo, 世界"), "str"},
        {"bytes", pyb::Value(pyb::Bytes{std::string("\x00\xff\x01", 3)}), "bytes"},
        {"list", pyb::list({1, "two", 3.0}), "list"},
        {"tuple", pyb::tuple({1, pyb::list({}), pyb::tuple({})}), "tuple"},
        {"dict", pyb::dict({{"b", 1}, {"a", 2}, {3, pyb::tuple({true})}}), "dict"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(python_type(c.value), c.python_type);
        EXPECT_EQ(round_trip(c.value), c.value);
    }
}

TEST(Values, BoolStaysBoolAndIsNeverAnInt) {
    EXPECT_EQ(bridge().eval("True").kind(), pyb::Value::Kind::Bool);
    EXPECT_EQ(bridge().eval("1").kind(), pyb::Value::Kind::Int);
    EXPECT_EQ(round_trip(true).kind(), pyb::Value::Kind::Bool);
    EXPECT_THROW(bridge().eval("True").as_int(), pyb::Error);
}

TEST(Values, Int64LimitsRoundTripAndLargerIntsBecomeBigInts) {
    for (std::int64_t v : {std::numeric_limits<std::int64_t>::min(), std::int64_t{-1}, std::int64_t{0},
                           std::numeric_limits<std::int64_t>::max()}) {
        EXPECT_EQ(round_trip(v).as_int(), v);
    }
    EXPECT_EQ(bridge().eval("2**63 - 1").as_int(), std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(bridge().eval("-2**63").as_int(), std::numeric_limits<std::int64_t>::min());
    // Exactly +-2^63 and beyond: sign and magnitude, never wrapped or truncated.
    const pyb::Value two63 = bridge().eval("2**63");
    ASSERT_EQ(two63.kind(), pyb::Value::Kind::BigInt);
    EXPECT_FALSE(two63.as_bigint().negative);
    EXPECT_EQ(two63.as_bigint().magnitude, (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 0, 0x80}));
    EXPECT_EQ(two63.as_bigint().to_string(), "9223372036854775808");
    const pyb::Value below = bridge().eval("-2**63 - 1");
    ASSERT_EQ(below.kind(), pyb::Value::Kind::BigInt);
    EXPECT_EQ(below.as_bigint().to_string(), "-9223372036854775809");
    const pyb::Value huge = bridge().eval("-(10**40 + 7)");
    EXPECT_EQ(huge.as_bigint().to_string(), "-10000000000000000000000000000000000000007");
    // And back to Python unchanged.
    bridge().exec("def _is_exact(x, text):\n    return type(x) is int and x == int(text)\n");
    for (const pyb::Value &v : {two63, below, huge}) {
        EXPECT_TRUE(bridge().call(bridge().eval("_is_exact").as_object(), {v, v.as_bigint().to_string()}).as_bool());
        EXPECT_EQ(round_trip(v), v);
    }
}

TEST(Values, NumpyScalarsArriveByValue) {
    bridge().exec("import numpy as np\n");
    EXPECT_EQ(bridge().eval("np.int64(-5)"), pyb::Value(-5));
    EXPECT_EQ(bridge().eval("np.uint8(200)"), pyb::Value(200));
    EXPECT_EQ(bridge().eval("np.float32(0.5)"), pyb::Value(0.5));
    EXPECT_EQ(bridge().eval("np.float64(-0.0)"), pyb::Value(-0.0));
    EXPECT_EQ(bridge().eval("np.bool_(True)"), pyb::Value(true));
    EXPECT_EQ(bridge().eval("np.uint64(2**64 - 1)").as_bigint().to_string(), "18446744073709551615");
    EXPECT_EQ(bridge().eval("np.arange(3)").kind(), pyb::Value::Kind::Object);  // arrays are not scalars
}

TEST(Values, MemoryviewArrivesAsBytes) {
    EXPECT_EQ(bridge().eval("memoryview(b'abcdef')[1:4]").as_bytes().data, "bcd");
    EXPECT_EQ(bridge().eval("memoryview(b'abcdef')[::2]").as_bytes().data, "ace");  // non-contiguous
}

TEST(Values, SetsAndFrozenSetsRoundTrip) {
    const pyb::Value s = bridge().eval("{1, 'two', (3, 4)}");
    ASSERT_EQ(s.kind(), pyb::Value::Kind::Set);
    EXPECT_EQ(s, pyb::set({pyb::tuple({3, 4}), 1, "two"}));  // order does not matter
    EXPECT_EQ(python_type(s), "set");
    EXPECT_EQ(round_trip(s), s);
    const pyb::Value f = bridge().eval("frozenset({1.5})");
    ASSERT_EQ(f.kind(), pyb::Value::Kind::FrozenSet);
    EXPECT_EQ(python_type(f), "frozenset");
    EXPECT_EQ(round_trip(f), f);
    EXPECT_THROW(round_trip(pyb::set({pyb::list({})})), pyb::PythonError);  // unhashable member
}

TEST(Values, SymbolsCrossAsPybridgeSymbolAndResolveToTorchObjects) {
    const pyb::Value f32 = pyb::symbol("f32");
    EXPECT_EQ(python_type(f32), "Symbol");
    EXPECT_EQ(round_trip(f32), f32);
    EXPECT_NE(round_trip(f32), pyb::Value("f32"));  // a symbol is not a str on the host
    bridge().exec("import pybridge, torch\n");
    EXPECT_TRUE(bridge().call(bridge().eval("lambda s: pybridge.resolve(s) is torch.float32").as_object(), {f32}).as_bool());
    EXPECT_EQ(bridge().call(bridge().eval("lambda s: str(pybridge.resolve(s))").as_object(), {pyb::symbol("cuda")}).as_str(),
              "cuda");
    EXPECT_EQ(bridge().eval("pybridge.Symbol('i64')"), pyb::symbol("i64"));
}

TEST(Values, FloatsKeepNanInfinityAndNegativeZeroBitForBit) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    for (double v : {nan, inf, -inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308}) {
        const double back = round_trip(v).as_float();
        EXPECT_EQ(std::memcmp(&back, &v, sizeof v), 0) << v;
    }
    EXPECT_TRUE(std::signbit(bridge().eval("-0.0").as_float()));
    EXPECT_TRUE(std::isnan(bridge().eval("float('nan')").as_float()));
}

TEST(Values, StringsAreUtf8WithEmbeddedNulKept) {
    const std::string s("a\0b\xc3\xa9\xf0\x9f\x98\x80", 9);  // a NUL b é 😀
    EXPECT_EQ(round_trip(pyb::Value(s)).as_str(), s);
    bridge().exec("def _len(x):\n    return len(x)\n");
    EXPECT_EQ(bridge().call(bridge().eval("_len").as_object(), {pyb::Value(s)}).as_int(), 5);
    EXPECT_EQ(bridge().eval("'\\u00e9'").as_str(), "\xc3\xa9");
}

TEST(Values, InvalidUtf8FromTheHostIsAPythonErrorNamingThePosition) {
    try {
        round_trip(pyb::Value(std::string("ok\xff", 3)));
        FAIL() << "invalid UTF-8 accepted";
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "UnicodeDecodeError");
        EXPECT_NE(e.message().find("position 2"), std::string::npos) << e.message();
    }
}

TEST(Values, LoneSurrogateFromPythonIsAPythonError) {
    try {
        bridge().eval("'x\\udc80'");
        FAIL() << "lone surrogate converted";
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "UnicodeEncodeError");
        EXPECT_NE(e.message().find("position 1"), std::string::npos) << e.message();
    }
}

TEST(Values, BytearrayArrivesAsBytes) {
    const pyb::Value v = bridge().eval("bytearray(b'\\x00ab')");
    EXPECT_EQ(v.as_bytes().data, std::string("\0ab", 3));
}

TEST(Values, DictKeepsInsertionOrderAndAnyHashableKey) {
    const pyb::Value d = bridge().eval("{'z': 1, 2: 'two', (1, 'a'): None, 'a': [1]}");
    const auto &items = d.as_dict().items;
    ASSERT_EQ(items.size(), 4u);
    EXPECT_EQ(items[0].first, pyb::Value("z"));
    EXPECT_EQ(items[1].first, pyb::Value(2));
    EXPECT_EQ(items[2].first, pyb::tuple({1, "a"}));
    EXPECT_EQ(items[3].second, pyb::list({1}));
    EXPECT_EQ(round_trip(d), d);
}

TEST(Values, UnhashableDictKeyFromTheHostIsAPythonError) {
    try {
        round_trip(pyb::dict({{pyb::list({1}), 1}}));
        FAIL() << "unhashable key accepted";
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "TypeError");
        EXPECT_NE(e.message().find("unhashable"), std::string::npos) << e.message();
    }
}

TEST(Values, OtherObjectsStayHandlesToTheSameObject) {
    bridge().exec("class _Thing:\n    def twice(self, x):\n        return 2 * x\n_thing = _Thing()\n");
    const pyb::Value thing = bridge().eval("_thing");
    ASSERT_EQ(thing.kind(), pyb::Value::Kind::Object);
    EXPECT_EQ(bridge().call_method(thing.as_object(), "twice", {21}).as_int(), 42);
    EXPECT_TRUE(bridge().call(bridge().eval("lambda x: x is _thing").as_object(), {thing}).as_bool());
    EXPECT_EQ(round_trip(thing), thing);
    // Subclasses of builtins keep their type as handles (an OrderedDict is not a dict here).
    EXPECT_EQ(bridge().eval("__import__('collections').OrderedDict(a=1)").kind(), pyb::Value::Kind::Object);
}

TEST(Values, KeywordArgumentsReachPython) {
    bridge().exec("def _kw(a, b=0, *, c=0):\n    return (a, b, c)\n");
    const pyb::Value r = bridge().call(bridge().eval("_kw").as_object(), {1}, {{"c", 3}, {"b", 2}});
    EXPECT_EQ(r, pyb::tuple({1, 2, 3}));
}

TEST(Values, NestingDeeperThanTheLimitIsAnErrorNotACrash) {
    // From Python: 100,000 levels of lists.
    try {
        bridge().eval("(lambda: (l := [], [ (l := [l]) for _ in range(100000) ], l)[2])()");
        FAIL() << "deep nesting converted";
    } catch (const pyb::Error &e) {
        EXPECT_NE(std::string(e.what()).find("nested deeper"), std::string::npos) << e.what();
    }
    // A list that contains itself: the error names where.
    try {
        bridge().eval("(lambda l: (l.append([0, {'k': l}]), l)[1])([])");
        FAIL() << "cycle converted";
    } catch (const pyb::Error &e) {
        EXPECT_STREQ(e.what(), "pybridge: cannot convert a container that contains itself: value[0][1]['k'] is value");
    }
    // From the host.
    pyb::Value deep = pyb::list({});
    for (int i = 0; i < pyb::kMaxDepth + 5; ++i) deep = pyb::list({deep});
    EXPECT_THROW(round_trip(deep), pyb::Error);
    // 100,000 levels built on the host: copied, compared, refused by the depth limit and
    // freed without overflowing the stack (none of these recurse once per level).
    const auto nest = [](pyb::Value leaf) {
        for (int i = 0; i < 100000; ++i) {
            pyb::List outer;
            outer.items.push_back(std::move(leaf));
            leaf = i % 2 ? pyb::Value(std::move(outer)) : pyb::Value(pyb::Tuple{std::move(outer.items)});
        }
        return leaf;
    };
    const pyb::Value mixed = pyb::dict({{"a", pyb::list({1, pyb::tuple({2.0, "x"}), pyb::dict({{3, pyb::set({4})}})})}, {"b", pyb::list({})}});
    const pyb::Value mixed_copy = mixed;
    EXPECT_TRUE(mixed_copy == mixed);
    EXPECT_EQ(mixed_copy.as_dict().items[0].second.as_list().items[1].as_tuple().items[1].as_str(), "x");
    EXPECT_FALSE(mixed_copy == pyb::dict({{"a", pyb::list({1, pyb::tuple({2.0, "y"}), pyb::dict({{3, pyb::set({4})}})})}, {"b", pyb::list({})}}));
    EXPECT_FALSE(mixed_copy == pyb::dict({{"a", pyb::list({1, pyb::tuple({2.0, "x"}), pyb::dict({{3, pyb::set({5})}})})}, {"b", pyb::list({})}}));
    const pyb::Value very_deep = nest(pyb::dict({{"leaf", 1}}));
    const pyb::Value copy = very_deep;
    EXPECT_TRUE(copy == very_deep);
    EXPECT_FALSE(copy == nest(pyb::dict({{"leaf", 2}})));
    pyb::Value assigned;
    assigned = copy;
    EXPECT_TRUE(assigned == very_deep);
    pyb::Args args{very_deep};  // a copy
    try {
        bridge().call(identity(), args);
        FAIL() << "100,000 levels converted";
    } catch (const pyb::Error &e) {
        EXPECT_NE(std::string(e.what()).find("nested deeper than 1000 levels"), std::string::npos) << e.what();
    }
    args.clear();
    // Still usable afterwards.
    EXPECT_EQ(bridge().eval("1 + 1").as_int(), 2);
}

TEST(Values, EveryIntegerTypeConstructsAnInt) {
    EXPECT_EQ(pyb::Value(5u).as_int(), 5);
    EXPECT_EQ(pyb::Value(5ll).as_int(), 5);
    EXPECT_EQ(pyb::Value(std::size_t{7}).as_int(), 7);
    EXPECT_EQ(pyb::Value(static_cast<short>(-3)).as_int(), -3);
    const pyb::Value big(std::numeric_limits<std::uint64_t>::max());
    ASSERT_EQ(big.kind(), pyb::Value::Kind::BigInt);
    EXPECT_EQ(big.as_bigint().to_string(), "18446744073709551615");
    EXPECT_EQ(bridge().call(bridge().eval("lambda x: x == 2**64 - 1").as_object(), {big}).as_bool(), true);
    static_assert(!std::is_constructible_v<pyb::Value, int *>, "a pointer must not become a Bool");
    EXPECT_EQ(pyb::Value(pyb::ObjectRef()), pyb::Value(pyb::ObjectRef()));  // empty handles are equal
    EXPECT_EQ(pyb::Value(pyb::Tensor()), pyb::Value(pyb::Tensor()));
}

TEST(Values, WrongKindAccessNamesBothKinds) {
    try {
        pyb::Value(1.5).as_str();
        FAIL();
    } catch (const pyb::Error &e) {
        EXPECT_STREQ(e.what(), "pybridge: expected a str value, got float");
    }
}

TEST(Values, NumericListsFromPythonArrivePackedWithEveryValueKept) {
    const pyb::Value floats = bridge().eval("[1.5, float('nan'), -0.0, float('-inf')]");
    ASSERT_EQ(floats.kind(), pyb::Value::Kind::FloatList);
    const auto &f = floats.as_float_list().items;
    ASSERT_EQ(f.size(), 4u);
    EXPECT_EQ(f[0], 1.5);
    EXPECT_TRUE(std::isnan(f[1]));
    EXPECT_TRUE(std::signbit(f[2]) && f[2] == 0.0);
    EXPECT_TRUE(std::isinf(f[3]) && f[3] < 0);

    const pyb::Value ints = bridge().eval("[-2**63, 0, 7, 2**63 - 1]");
    ASSERT_EQ(ints.kind(), pyb::Value::Kind::IntList);
    EXPECT_EQ(ints.as_int_list().items,
              (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 0, 7,
                                         std::numeric_limits<std::int64_t>::max()}));
    // Back in Python they are plain lists of the same floats and ints.
    EXPECT_EQ(bridge().call(bridge().eval("lambda l: [type(x).__name__ for x in l] == ['int'] * 4 and l[0] == -2**63").as_object(),
                            {ints}),
              pyb::Value(true));
    EXPECT_EQ(python_type(floats), "list");
}

TEST(Values, ListsThatAreNotAllFloatsOrAllInt64StayGeneric) {
    const struct {
        const char *source;
        pyb::Value::Kind kind;
    } cases[] = {
        {"[]", pyb::Value::Kind::List},
        {"[1, 2.0]", pyb::Value::Kind::List},           // mixed
        {"[1.0, 2]", pyb::Value::Kind::List},           // mixed, float first
        {"[True, 1]", pyb::Value::Kind::List},          // bool is not an int
        {"[1, 2**63]", pyb::Value::Kind::List},         // one item beyond int64
        {"[1.0, type('F', (float,), {})(2.0)]", pyb::Value::Kind::List},  // a float subclass
        {"[[1.0]]", pyb::Value::Kind::List},
        {"(1.0, 2.0)", pyb::Value::Kind::Tuple},        // tuples are never packed
    };
    for (const auto &c : cases) {
        const pyb::Value v = bridge().eval(c.source);
        EXPECT_EQ(v.kind(), c.kind) << c.source << " arrived as " << pyb::kind_name(v.kind());
    }
    const pyb::Value big = bridge().eval("[1, 2**63]");
    EXPECT_EQ(big.as_list().items[1].kind(), pyb::Value::Kind::BigInt);
    EXPECT_EQ(big.as_list().items[1].as_bigint().to_string(), "9223372036854775808");
}

TEST(Values, PackedListsEqualTheGenericListAndReadThroughListAt) {
    const pyb::Value packed = pyb::FloatList{{1.0, 2.5}};
    const pyb::Value generic = pyb::list({1.0, 2.5});
    EXPECT_EQ(packed, generic);
    EXPECT_EQ(generic, packed);
    EXPECT_NE(packed, pyb::list({1.0, 2.0}));
    EXPECT_NE(packed, pyb::Value(pyb::IntList{{1, 2}}));  // 1.0 is a float, 1 an int
    EXPECT_EQ(pyb::Value(pyb::IntList{{1, 2}}), pyb::list({1, 2}));
    EXPECT_EQ(round_trip(generic).kind(), pyb::Value::Kind::FloatList);  // how Python hands it back
    EXPECT_EQ(round_trip(generic), generic);
    ASSERT_TRUE(packed.is_list());
    EXPECT_EQ(packed.list_size(), 2u);
    EXPECT_EQ(packed.list_at(1), pyb::Value(2.5));
    EXPECT_EQ(generic.list_at(0), pyb::Value(1.0));
    try {
        packed.list_at(2);
        FAIL() << "list_at past the end did not throw";
    } catch (const pyb::Error &e) {
        EXPECT_NE(std::string(e.what()).find("list index 2 out of range (size 2)"), std::string::npos) << e.what();
    }
    try {
        packed.as_list();
        FAIL() << "as_list on a packed list did not throw";
    } catch (const pyb::Error &e) {
        EXPECT_NE(std::string(e.what()).find("packed float list"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pyb::Value(3).list_size(), pyb::Error);
}
