// Object handles, namespaces, host functions, and the exception object inside PythonError.
#include <gtest/gtest.h>

#include <stdexcept>

#include "shared_bridge.hpp"

using pyb_test::bridge;

namespace {

struct HostFailure : std::runtime_error {
    int code;
    HostFailure(const std::string &m, int c) : std::runtime_error(m), code(c) {}
};

pyb::ObjectRef obj(const char *expr) { return bridge().eval_ref(expr); }

}  // namespace

TEST(Objects, AttributeItemLenReprStrIsinstance) {
    bridge().exec("class _Box:\n    def __init__(self):\n        self.items = {'a': 1}\n    def __repr__(self):\n        return '<Box>'\n_box = _Box()\n");
    const pyb::ObjectRef box = obj("_box");
    bridge().setattr(box, "label", "first");
    EXPECT_EQ(bridge().getattr(box, "label"), pyb::Value("first"));
    const pyb::ObjectRef items = bridge().getattr_ref(box, "items");
    bridge().setitem(items, "b", pyb::list({2, 3}));
    EXPECT_EQ(bridge().getitem(items, "b"), pyb::list({2, 3}));
    EXPECT_EQ(bridge().len(items), 2);
    EXPECT_EQ(bridge().repr(box), "<Box>");
    EXPECT_EQ(bridge().str(items), "{'a': 1, 'b': [2, 3]}");
    EXPECT_TRUE(bridge().isinstance(box, obj("_Box")));
    EXPECT_FALSE(bridge().isinstance(box, obj("int")));
    EXPECT_THROW(bridge().getitem(items, "missing"), pyb::PythonError);
}

TEST(Objects, IterationYieldsConvertedItemsThenEnds) {
    const pyb::ObjectRef it = bridge().iter(obj("(x * x for x in range(4))"));
    std::vector<std::int64_t> seen;
    while (auto v = bridge().next(it)) seen.push_back(v->as_int());
    EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1, 4, 9}));
    EXPECT_FALSE(bridge().next(it).has_value());  // stays exhausted
    EXPECT_THROW(bridge().next(obj("[1, 2]")), pyb::Error);  // a list is not an iterator
}

TEST(Objects, DunderMethodsThatRaiseGiveCleanErrors) {
    bridge().exec(
        "class _Hostile:\n"
        "    def __repr__(self): raise RuntimeError('repr broke')\n"
        "    def __str__(self): raise RuntimeError('str broke')\n"
        "    def __len__(self): raise RuntimeError('len broke')\n"
        "    def __iter__(self): raise RuntimeError('iter broke')\n"
        "    def __hash__(self): raise RuntimeError('hash broke')\n"
        "_hostile = _Hostile()\n");
    const pyb::ObjectRef h = obj("_hostile");
    auto message_of = [](auto &&fn) {
        try {
            fn();
        } catch (const pyb::PythonError &e) {
            return e.message();
        }
        return std::string("no error");
    };
    EXPECT_EQ(message_of([&] { bridge().repr(h); }), "repr broke");
    EXPECT_EQ(message_of([&] { bridge().str(h); }), "str broke");
    EXPECT_EQ(message_of([&] { bridge().len(h); }), "len broke");
    EXPECT_EQ(message_of([&] { bridge().iter(h); }), "iter broke");
    // As a dict key on the way in, its __hash__ raises.
    EXPECT_EQ(message_of([&] { bridge().call(obj("lambda d: d"), {pyb::dict({{pyb::Value(h), 1}})}); }), "hash broke");
    // An exception whose repr raises is still reported (the traceback formatting copes).
    EXPECT_EQ(bridge().eval("1 + 1").as_int(), 2);
}

TEST(Objects, SourceWithANulByteIsRefusedNotTruncated) {
    try {
        bridge().exec(std::string_view("x = 1\0raise SystemExit(9)", 25));
        FAIL() << "source with NUL accepted";
    } catch (const pyb::Error &e) {
        EXPECT_STREQ(e.what(), "pybridge: Python source contains a NUL byte at offset 5");
    }
    EXPECT_THROW(bridge().eval(std::string_view("1\0+1", 4)), pyb::Error);
}

TEST(Objects, NamespacesArePersistentOrOneOff) {
    const pyb::ObjectRef ns = bridge().new_namespace();
    bridge().exec("x = 40\ndef f():\n    return x + 2\n", ns);
    EXPECT_EQ(bridge().eval("f()", ns).as_int(), 42);
    EXPECT_THROW(bridge().eval("f_not_in_main_xyz"), pyb::PythonError);  // __main__ untouched
    EXPECT_EQ(bridge().eval("a * b", pyb::Dict{{{"a", 6}, {"b", 7}}}).as_int(), 42);
    EXPECT_THROW(bridge().eval("a", pyb::Dict{}), pyb::PythonError);  // nothing persisted
    // Keep-as-handle policy: a list stays a live Python list.
    const pyb::ObjectRef live = bridge().eval_ref("[1, 2]");
    bridge().call_method(live, "append", {3});
    EXPECT_EQ(bridge().len(live), 3);
}

TEST(HostFunctions, PythonCallsHostCodeWithConvertedArguments) {
    auto describe = pyb::HostFunction::make("describe", [](const pyb::Args &a, const pyb::Kwargs &kw) {
        std::string out = std::to_string(a.size()) + " args:";
        for (const auto &v : a) out += std::string(" ") + pyb::kind_name(v.kind());
        for (const auto &[k, v] : kw) out += " " + k + "=" + pyb::kind_name(v.kind());
        return pyb::Value(out);
    });
    const pyb::Value r = bridge().call(obj("lambda f: f(1, 2.5, 'x', [1], sep=b'')"), {describe});
    EXPECT_EQ(r.as_str(), "4 args: int float str int list sep=bytes");
    // The same host function comes back as itself.
    EXPECT_EQ(bridge().call(obj("lambda f: f"), {describe}), pyb::Value(describe));
    EXPECT_EQ(bridge().call(obj("lambda f: callable(f)"), {describe}), pyb::Value(true));
    EXPECT_EQ(bridge().call(obj("lambda f: f.__name__"), {describe}), pyb::Value("describe"));
}

TEST(HostFunctions, HostExceptionComesBackAsTheOriginalError) {
    auto failing = pyb::HostFunction::make("failing", [](const pyb::Args &, const pyb::Kwargs &) -> pyb::Value {
        throw HostFailure("disk on fire", 7);
    });
    try {
        bridge().call(obj("lambda f: f()"), {failing});
        FAIL() << "no exception";
    } catch (const HostFailure &e) {  // the original type, not a PythonError
        EXPECT_STREQ(e.what(), "disk on fire");
        EXPECT_EQ(e.code, 7);
    }
    // Python can catch it as pybridge.HostError.
    bridge().exec(
        "def _catching(f):\n"
        "    try:\n"
        "        f()\n"
        "    except Exception as e:\n"
        "        return type(e).__name__ + ': ' + str(e)\n");
    EXPECT_EQ(bridge().call(obj("_catching"), {failing}).as_str(), "HostError: disk on fire");
    // ... and by its name, as pybridge.HostError.
    bridge().exec(
        "import pybridge\n"
        "def _catching_by_name(f):\n"
        "    try:\n"
        "        f()\n"
        "    except pybridge.HostError:\n"
        "        return 'caught'\n");
    EXPECT_EQ(bridge().call(obj("_catching_by_name"), {failing}).as_str(), "caught");
    EXPECT_TRUE(bridge().eval("issubclass(pybridge.CallInterrupted, BaseException) and "
                              "not issubclass(pybridge.CallInterrupted, Exception)").as_bool());
}

TEST(HostFunctions, HostCodeMayCallBackIntoPython) {
    auto twice_via_python = pyb::HostFunction::make("twice", [](const pyb::Args &a, const pyb::Kwargs &) {
        // Re-entrant: runs inline on the interpreter thread.
        return bridge().call(obj("lambda x: 2 * x"), {a.at(0)});
    });
    EXPECT_EQ(bridge().call(obj("lambda f: f(21)"), {twice_via_python}).as_int(), 42);
    // A Python error inside the nested call re-raises the original Python exception.
    auto nested_error = pyb::HostFunction::make("nested", [](const pyb::Args &, const pyb::Kwargs &) {
        return bridge().eval("{}['nope']");
    });
    try {
        bridge().call(obj("lambda f: f()"), {nested_error});
        FAIL();
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "KeyError");
    }
}

TEST(ErrorModel, ExceptionObjectIsKeptForItsAttributes) {
    try {
        bridge().exec("class _Rich(Exception):\n    def __init__(self):\n        super().__init__('rich')\n        self.status = 418\nraise _Rich()\n");
        FAIL();
    } catch (const pyb::PythonError &e) {
        ASSERT_TRUE(static_cast<bool>(e.exception()));
        EXPECT_EQ(bridge().getattr(e.exception(), "status").as_int(), 418);
    }
}

TEST(ErrorModel, MemoryAndRecursionErrorsArriveAndTheHostContinues) {
    try {
        bridge().exec("def _deep(n):\n    return _deep(n + 1)\n_deep(0)\n");
        FAIL();
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "RecursionError");
    }
    try {
        bridge().exec("raise MemoryError('pretend')\n");
        FAIL();
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "MemoryError");
    }
    try {
        bridge().exec("_x = bytearray(1 << 62)\n");  // a real failed allocation
        FAIL();
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "MemoryError");
    }
    EXPECT_EQ(bridge().eval("3 * 3").as_int(), 9);
}
