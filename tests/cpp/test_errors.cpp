// Python exceptions become PythonError with the type name, message and traceback; the
// host keeps running whatever Python raised.
#include <gtest/gtest.h>

#include "shared_bridge.hpp"

using pyb_test::bridge;

namespace {

pyb::PythonError raised_by(const std::string &source) {
    try {
        bridge().exec(source);
    } catch (const pyb::PythonError &e) {
        return e;
    }
    ADD_FAILURE() << "no exception from: " << source;
    return pyb::PythonError("", "", "");
}

bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(Errors, BuiltinExceptionCarriesTypeMessageAndTraceback) {
    const pyb::PythonError e = raised_by(
        "def _inner():\n"
        "    raise ValueError('bad shape (3, 4)')\n"
        "def _outer():\n"
        "    _inner()\n"
        "_outer()\n");
    EXPECT_EQ(e.type_name(), "ValueError");
    EXPECT_EQ(e.message(), "bad shape (3, 4)");
    EXPECT_STREQ(e.what(), "ValueError: bad shape (3, 4)");
    EXPECT_TRUE(contains(e.traceback(), "Traceback (most recent call last)")) << e.traceback();
    EXPECT_TRUE(contains(e.traceback(), "in _outer")) << e.traceback();
    EXPECT_TRUE(contains(e.traceback(), "in _inner")) << e.traceback();
    EXPECT_TRUE(contains(e.traceback(), "ValueError: bad shape (3, 4)")) << e.traceback();
}

TEST(Errors, TypeNameIsQualifiedOutsideBuiltins) {
    const pyb::PythonError e = raised_by("class MyError(RuntimeError):\n    pass\nraise MyError('x')\n");
    EXPECT_EQ(e.type_name(), "__main__.MyError");
    const pyb::PythonError j = raised_by("import json\njson.loads('{')\n");
    EXPECT_EQ(j.type_name(), "json.decoder.JSONDecodeError");
}

TEST(Errors, ChainedCauseIsInTheTraceback) {
    const pyb::PythonError e = raised_by(
        "try:\n"
        "    {}['missing']\n"
        "except KeyError as k:\n"
        "    raise RuntimeError('lookup failed') from k\n");
    EXPECT_EQ(e.type_name(), "RuntimeError");
    EXPECT_TRUE(contains(e.traceback(), "KeyError: 'missing'")) << e.traceback();
    EXPECT_TRUE(contains(e.traceback(), "direct cause")) << e.traceback();
}

TEST(Errors, SystemExitIsAnErrorAndTheHostKeepsRunning) {
    const pyb::PythonError e = raised_by("import sys\nsys.exit(3)\n");
    EXPECT_EQ(e.type_name(), "SystemExit");
    EXPECT_EQ(e.message(), "3");
    EXPECT_EQ(raised_by("raise KeyboardInterrupt\n").type_name(), "KeyboardInterrupt");
    EXPECT_EQ(bridge().eval("6 * 7").as_int(), 42);
}

TEST(Errors, UnprintableMessagesNeverThrowWhileFormatting) {
    // A message with a lone surrogate cannot be UTF-8 encoded: it is escaped.
    const pyb::PythonError s = raised_by("raise ValueError('bad \\udcff byte')\n");
    EXPECT_EQ(s.message(), "bad \\udcff byte");
    // An exception whose __str__ raises.
    const pyb::PythonError r = raised_by(
        "class Weird(Exception):\n"
        "    def __str__(self):\n"
        "        raise RuntimeError('no str for you')\n"
        "raise Weird()\n");
    EXPECT_EQ(r.type_name(), "__main__.Weird");
    EXPECT_EQ(r.message(), "<exception str() failed>");
    EXPECT_EQ(bridge().eval("1").as_int(), 1);
}

TEST(Errors, ErrorsCrossToOtherHostThreadsThroughFutures) {
    auto fut = bridge().call_method_async(bridge().import("math"), "sqrt", {-1.0});
    try {
        fut.get();
        FAIL() << "math.sqrt(-1) returned";
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "ValueError");
        EXPECT_EQ(e.message(), "math domain error");
    }
}

TEST(Errors, MissingModuleAndAttributeAreClear) {
    try {
        bridge().import("no_such_module_xyz");
        FAIL();
    } catch (const pyb::PythonError &e) {
        EXPECT_EQ(e.type_name(), "ModuleNotFoundError");
        EXPECT_EQ(e.message(), "No module named 'no_such_module_xyz'");
    }
    EXPECT_THROW(bridge().getattr(bridge().import("math"), "nope"), pyb::PythonError);
}
