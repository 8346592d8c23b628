// bench/marshal: pybridge's Value conversion beside pybind11's own STL casters, in one run.
//
// Rows: list of 1e6 doubles, list of 1e6 int64, dict of 1e5 str -> int, and a nested
// JSON-like document of about 10 MB (no pybind11 equivalent: reported alone). Each
// direction is timed separately on the interpreter thread (no dispatch in the timing):
//   host -> Python: build the Python object from the host value (and free it);
//   Python -> host: build the host value from an existing Python object (and free it).
// Median of 11 samples after a warm-up, pybridge and pybind11 samples alternating; min..max shown. The numeric lists are packed
// (FloatList/IntList, the form a Python list of floats/ints arrives in); the same
// list of doubles as a generic List of one Value per item, host -> Python, is shown after
// the table for reference.
#include <bridge/pybridge.hpp>

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include <map>

#include "bench_report.hpp"

namespace py = pybind11;

namespace {

void row(const char *label, const bench::Stats &mine, const bench::Stats &theirs) {
    std::printf("  %-34s %10.2f ms (%.2f..%.2f)   %10.2f ms (%.2f..%.2f)   %6.2fx\n", label, mine.median / 1000,
                mine.min / 1000, mine.max / 1000, theirs.median / 1000, theirs.min / 1000, theirs.max / 1000,
                mine.median / theirs.median);
}

pyb::Value nested_document(int records) {
    pyb::List out;
    for (int i = 0; i < records; ++i) {
        out.items.push_back(pyb::dict({{"id", i},
                                       {"name", "record number " + std::to_string(i)},
                                       {"score", i * 0.25},
                                       {"active", i % 3 == 0},
                                       {"tags", pyb::list({"alpha", "beta", "gamma"})},
                                       {"pos", pyb::dict({{"x", i % 100}, {"y", -i}, {"label", pyb::Value()}})}}));
    }
    return out;
}

}  // namespace

int main() {
    pyb::Interpreter interp{pyb::InterpreterConfig{}};
    bench::Report report;
    constexpr int kSamples = 11;

    interp.call([&](pyb::Python py) {
        const size_t n = 1000000;
        std::vector<double> doubles(n);
        std::vector<std::int64_t> ints(n);
        std::map<std::string, std::int64_t> map;
        pyb::FloatList vd;  // what a host holding a std::vector<double> passes (packed list)
        pyb::IntList vi;
        pyb::Dict vm;
        for (size_t i = 0; i < n; ++i) {
            doubles[i] = static_cast<double>(i) * 0.5;
            ints[i] = static_cast<std::int64_t>(i) * 31 - 7;
            vd.items.push_back(doubles[i]);
            vi.items.push_back(ints[i]);
        }
        for (int i = 0; i < 100000; ++i) {
            map.emplace("key" + std::to_string(i), i);
            vm.items.emplace_back("key" + std::to_string(i), static_cast<std::int64_t>(i));
        }
        const pyb::Value value_doubles(std::move(vd)), value_ints(std::move(vi)), value_map(std::move(vm));
        const pyb::Value doc = nested_document(40000);

        auto to_py = [&](const pyb::Value &v) {
            return bench::measure_us(kSamples, 1, [&] { Py_DECREF(pyb::to_python(py, v)); });
        };
        auto from_py = [&](const pyb::Value &v) {
            PyObject *o = pyb::to_python(py, v);
            auto s = bench::measure_us(kSamples, 1, [&] { pyb::Value back = pyb::from_python(py, o); });
            Py_DECREF(o);
            return s;
        };
        // pybridge and pybind11 samples alternate (bench_report.hpp), from the same Python object.
        auto to_pair = [&](const pyb::Value &v, const auto &host) {
            return bench::measure_pair_us(
                kSamples, 1, [&] { Py_DECREF(pyb::to_python(py, v)); }, [&] { py::object o = py::cast(host); });
        };
        auto from_pair = [&](const pyb::Value &v, const auto &host) {
            using T = std::decay_t<decltype(host)>;
            py::object o = py::reinterpret_steal<py::object>(pyb::to_python(py, v));
            return bench::measure_pair_us(
                kSamples, 1, [&] { pyb::Value back = pyb::from_python(py, o.ptr()); }, [&] { T back = o.cast<T>(); });
        };

        struct Row {
            const char *name, *label;
            bench::Stats mine, theirs;
        };
        auto make_row = [](const char *name, const char *label, std::pair<bench::Stats, bench::Stats> s) {
            return Row{name, label, s.first, s.second};
        };
        std::vector<Row> rows = {
            make_row("list_1e6_double.to_python", "list of 1e6 doubles, host -> Python", to_pair(value_doubles, doubles)),
            make_row("list_1e6_double.from_python", "list of 1e6 doubles, Python -> host", from_pair(value_doubles, doubles)),
            make_row("list_1e6_int64.to_python", "list of 1e6 int64, host -> Python", to_pair(value_ints, ints)),
            make_row("list_1e6_int64.from_python", "list of 1e6 int64, Python -> host", from_pair(value_ints, ints)),
            make_row("dict_1e5_str_int.to_python", "dict of 1e5 str->int, host -> Python", to_pair(value_map, map)),
            make_row("dict_1e5_str_int.from_python", "dict of 1e5 str->int, Python -> host", from_pair(value_map, map)),
        };
        const bench::Stats doc_to = to_py(doc), doc_from = from_py(doc);
        pyb::List generic;
        for (double d : doubles) generic.items.emplace_back(d);
        const pyb::Value value_generic(std::move(generic));
        const bench::Stats generic_to = to_py(value_generic);
        PyObject *doc_py = pyb::to_python(py, doc);
        PyObject *json = PyImport_ImportModule("json");
        PyObject *text = PyObject_CallMethod(json, "dumps", "O", doc_py);
        const double mb = text ? static_cast<double>(PyUnicode_GET_LENGTH(text)) / 1e6 : 0;
        Py_XDECREF(text);
        Py_XDECREF(json);
        Py_DECREF(doc_py);

        std::printf("Marshalling: pybridge Value vs pybind11 STL casters (median of %d, samples alternating; min..max)\n", kSamples);
        std::printf("  %-34s %27s   %27s   %7s\n", "case", "pybridge", "pybind11", "ratio");
        for (const Row &r : rows) row(r.label, r.mine, r.theirs);
        std::printf("  nested document (%.1f MB as JSON): host -> Python %.2f ms, Python -> host %.2f ms\n", mb,
                    doc_to.median / 1000, doc_from.median / 1000);
        std::printf("  generic List of 1e6 Float Values (host-built, unpacked): host -> Python %.2f ms\n",
                    generic_to.median / 1000);
        for (const Row &r : rows) {
            report.result(std::string("marshal.") + r.name + ".pybridge", r.mine.median / 1000, "ms");
            report.result(std::string("marshal.") + r.name + ".pybind11", r.theirs.median / 1000, "ms");
        }
        report.result("marshal.nested_doc.to_python.pybridge", doc_to.median / 1000, "ms");
        report.result("marshal.nested_doc.from_python.pybridge", doc_from.median / 1000, "ms");
        for (const Row &r : rows)
            report.ratio(std::string("marshal.") + r.name + ".pybridge_over_pybind11", r.mine.median / r.theirs.median, "<=", 1.0);
    });
    interp.stop();
    report.print();
    return 0;
}
