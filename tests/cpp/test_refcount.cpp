// Refcount discipline: converting the same 100,000 mixed values both ways many times
// leaves Python's allocated blocks, its live objects and the process RSS where they were.
// PYBRIDGE_REFCOUNT_ROUNDS sets the number of rounds (default 1000).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "shared_bridge.hpp"

using pyb_test::bridge;

namespace {

long rounds() {
    const char *env = std::getenv("PYBRIDGE_REFCOUNT_ROUNDS");
    return env ? std::atol(env) : 1000;
}

long rss_kib() {
    std::ifstream statm("/proc/self/statm");
    long size = 0, resident = 0;
    statm >> size >> resident;
    return resident * 4;
}

pyb::Value mixed_values(int n) {
    pyb::List out;
    for (int i = 0; i < n; ++i) {
        switch (i % 10) {
            case 0: out.items.emplace_back(static_cast<std::int64_t>(i) * 7919); break;
            case 1: out.items.emplace_back(i * 0.5); break;
            case 2: out.items.emplace_back("value " + std::to_string(i)); break;
            case 3: out.items.emplace_back(pyb::Bytes{std::string(static_cast<size_t>(i % 17), 'b')}); break;
            case 4: out.items.push_back(pyb::list({i, "x", pyb::Value()})); break;
            case 5: out.items.push_back(pyb::tuple({i % 2 == 0, 1.5})); break;
            case 6: out.items.push_back(pyb::dict({{"k", i}, {i, "v"}})); break;
            case 7: out.items.push_back(pyb::BigInt{i % 2 == 0, {1, 2, 3, 4, 5, 6, 7, 8, 9}}); break;
            case 8: out.items.push_back(pyb::set({i, "s"})); break;
            default: out.items.push_back(pyb::symbol("f32")); break;
        }
    }
    return out;
}

struct Counts {
    long blocks, objects;
};

Counts python_counts(pyb::Python py) {
    PyRun_SimpleString("import gc; gc.collect()");
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *b = PyObject_CallMethod(sys, "getallocatedblocks", nullptr);
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *objs = PyObject_CallMethod(gc, "get_objects", nullptr);
    Counts c{b ? PyLong_AsLong(b) : -1, objs ? static_cast<long>(PyList_GET_SIZE(objs)) : -1};
    Py_XDECREF(objs);
    Py_XDECREF(gc);
    Py_XDECREF(b);
    Py_XDECREF(sys);
    if (PyErr_Occurred()) pyb::throw_python_error(py);
    return c;
}

}  // namespace

TEST(Refcount, ManyRoundTripsLeaveNoGrowth) {
    const pyb::Value values = mixed_values(100000);
    pyb::Dict big;
    for (int i = 0; i < 100000; ++i) big.items.emplace_back("key" + std::to_string(i), i);
    const pyb::Value dict(std::move(big));
    bridge().exec("import pybridge\n");  // Symbol's type is looked up once, before counting

    auto round_trip = [&](pyb::Python py, const pyb::Value &v) {
        PyObject *o = pyb::to_python(py, v);
        pyb::Value back = pyb::from_python(py, o);
        Py_DECREF(o);
        return back;
    };
    const long n = std::max(2L, rounds());
    // Compared: the counts half-way and at the end. A leak per round grows them by n/2 or
    // more; what is allocated once settles in the first half. (Measured: with the whole suite
    // run first, tqdm's monitor thread is alive and the blocks rose by ~250 once, in the
    // first half, then stayed within +-20.)
    const auto [first, before, after, rss_before, equal] = bridge().interpreter().call([&](pyb::Python py) {
        for (int warm = 0; warm < 3; ++warm) round_trip(py, values), round_trip(py, dict);
        const Counts c0 = python_counts(py);
        Counts half{};
        long r0 = rss_kib();
        bool same = true;
        for (long r = 0; r < n; ++r) {
            same &= round_trip(py, values) == values;
            if (r % 100 == 0) same &= round_trip(py, dict) == dict;
            if (r == 0) r0 = rss_kib();  // after one full round: the allocators' working set
            if (r == n / 2 - 1) half = python_counts(py);
        }
        return std::make_tuple(c0, half, python_counts(py), r0, same);
    });
    EXPECT_TRUE(equal);
    EXPECT_LE(after.blocks - before.blocks, 64) << before.blocks << " -> " << after.blocks;
    EXPECT_LE(after.objects - before.objects, 16) << before.objects << " -> " << after.objects;
    EXPECT_LE(rss_kib() - rss_before, 4 * 1024) << "RSS grew by " << (rss_kib() - rss_before) << " KiB";
    std::printf("refcount: %ld rounds of 100,000 values: blocks %ld -> %ld -> %ld, objects %ld -> %ld -> %ld, "
                "RSS +%ld KiB\n",
                n, first.blocks, before.blocks, after.blocks, first.objects, before.objects, after.objects,
                rss_kib() - rss_before);
}
