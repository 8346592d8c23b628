// Python's output reaching the host: the sink (stdout/stderr lines, logging records,
// warnings, from any Python thread), and by default the C streams, in order with the host's
// own printf, with the real descriptors' isatty() (tqdm on a terminal).
#include <gtest/gtest.h>

#include <bridge/pybridge.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct Record {
    pyb::OutputSource source;
    int level;
    std::string name, text;
    bool operator==(const Record &o) const {
        return source == o.source && level == o.level && name == o.name && text == o.text;
    }
};
std::ostream &operator<<(std::ostream &os, const Record &r) {
    return os << "{" << static_cast<int>(r.source) << ", " << r.level << ", '" << r.name << "', '" << r.text << "'}";
}

std::mutex g_mutex;
std::vector<Record> g_records;
bool g_throw = false;
std::unique_ptr<pyb::Bridge> g_py;

std::vector<Record> take() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return std::exchange(g_records, {});
}

class OutputEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        pyb::InterpreterConfig config;
        config.output_sink = [](const pyb::OutputRecord &r) {
            std::lock_guard<std::mutex> lock(g_mutex);
            g_records.push_back({r.source, r.level, std::string(r.name), std::string(r.text)});
            if (g_throw) throw std::runtime_error("sink failure");
        };
        g_py = std::make_unique<pyb::Bridge>(std::move(config));
        g_py->exec("import logging, sys, threading, warnings\n");
        take();
    }
    void TearDown() override {
        g_py->stop();
        g_py.reset();
    }
};

pyb::Bridge &py() { return *g_py; }

using S = pyb::OutputSource;

}  // namespace

TEST(OutputSink, StdoutAndStderrArriveAsLinesOrProgressUpdates) {
    py().exec("print('a')\nprint('b', end='')\nsys.stdout.flush()\nsys.stderr.write('e1\\re2\\npartial')\n");
    EXPECT_EQ(take(), (std::vector<Record>{{S::Stdout, 20, "", "a\n"}, {S::Stdout, 20, "", "b"},
                                           {S::Stderr, 40, "", "e1"}, {S::Stderr, 40, "", "\re2\n"}}));
    py().exec("sys.stderr.flush()\n");
    EXPECT_EQ(take(), (std::vector<Record>{{S::Stderr, 40, "", "partial"}}));
    py().exec("print('caf\\u00e9 \\udcff')\n");  // UTF-8; a lone surrogate escaped, not an error
    EXPECT_EQ(take(), (std::vector<Record>{{S::Stdout, 20, "", "caf\xc3\xa9 \\udcff\n"}}));
}

TEST(OutputSink, LoggingRecordsCarryLevelAndLoggerName) {
    py().exec(
        "logging.getLogger('app.model').warning('careful: %d left', 3)\n"
        "logging.getLogger('app.model').info('not shown: root is at WARNING')\n"
        "logging.getLogger('app').error('failed')\n");
    EXPECT_EQ(take(), (std::vector<Record>{{S::Logging, 30, "app.model", "careful: 3 left"},
                                           {S::Logging, 40, "app", "failed"}}));
    py().exec("try:\n    1 / 0\nexcept ZeroDivisionError:\n    logging.getLogger('app').exception('boom')\n");
    const auto records = take();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].level, 40);
    EXPECT_EQ(records[0].text.rfind("boom\nTraceback (most recent call last):", 0), 0u) << records[0].text;
    EXPECT_NE(records[0].text.find("ZeroDivisionError: division by zero"), std::string::npos);
}

TEST(OutputSink, WarningsArriveWithTheirCategory) {
    py().exec("with warnings.catch_warnings():\n    warnings.simplefilter('always')\n"
              "    warnings.warn('old api', DeprecationWarning)\n");
    const auto records = take();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].source, S::Warnings);
    EXPECT_EQ(records[0].level, 30);
    EXPECT_EQ(records[0].name, "DeprecationWarning");
    EXPECT_NE(records[0].text.find("DeprecationWarning: old api"), std::string::npos) << records[0].text;
}

TEST(OutputSink, PythonThreadsAndTqdmReachTheSink) {
    py().exec("t = threading.Thread(target=lambda: print('from a thread'))\nt.start()\nt.join()\n");
    EXPECT_EQ(take(), (std::vector<Record>{{S::Stdout, 20, "", "from a thread\n"}}));
    py().exec("from tqdm import tqdm\nfor _ in tqdm(range(5), mininterval=0, desc='work'):\n    pass\n");
    const auto records = take();
    ASSERT_GE(records.size(), 2u);
    for (const Record &r : records) EXPECT_EQ(r.source, S::Stderr) << r;
    EXPECT_EQ(records.front().text.rfind("\rwork:   0%|", 0), 0u) << records.front();  // redrawn in place
    bool done = false;
    for (const Record &r : records) done = done || r.text.rfind("\rwork: 100%|", 0) == 0;
    EXPECT_TRUE(done);
    EXPECT_EQ(records.back().text, "\n");  // tqdm's close
}

TEST(OutputSink, AThrowingSinkLosesOnlyItsRecord) {
    g_throw = true;
    testing::internal::CaptureStderr();
    py().exec("print('x')\n");
    const std::string err = testing::internal::GetCapturedStderr();
    g_throw = false;
    EXPECT_EQ(err, "pybridge: the output sink threw: sink failure\n");
    EXPECT_EQ(take().size(), 1u);
    EXPECT_EQ(py().eval("1 + 1").as_int(), 2);  // Python carries on
}

TEST(DefaultOutput, PythonAndHostOutputKeepTheirOrderThroughAPipe) {
    py().exec(
        "import subprocess\n"
        "_run = subprocess.run([" "'" PYBRIDGE_ORDER_HELPER "'" "], capture_output=True, text=True)\n");
    EXPECT_EQ(py().eval("_run.returncode").as_int(), 0) << py().eval("_run.stderr").as_str();
    EXPECT_EQ(py().eval("_run.stdout").as_str(), "host 1\npython 2\nhost 3\npython 4\nhost 5\n");
    EXPECT_EQ(py().eval("_run.stderr").as_str(), "notty\n");
}

TEST(DefaultOutput, OnATerminalIsattyIsTrueAndTqdmDrawsItsBar) {
    py().exec(
        "import os, pty, subprocess\n"
        "import fcntl, struct, termios\n"
        "_master, _slave = pty.openpty()\n"
        "fcntl.ioctl(_slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))  # a 100-column terminal\n"
        "_p = subprocess.Popen([" "'" PYBRIDGE_ORDER_HELPER "'" ", '--tqdm'], stdin=_slave, stdout=_slave, stderr=_slave)\n"
        "os.close(_slave)\n"
        "_out = b''\n"
        "while True:\n"
        "    try:\n"
        "        _chunk = os.read(_master, 65536)\n"
        "    except OSError:  # EIO: the terminal's other end closed\n"
        "        break\n"
        "    if not _chunk:\n"
        "        break\n"
        "    _out += _chunk\n"
        "_code = _p.wait()\n"
        "os.close(_master)\n"
        "_text = _out.decode(errors='replace')\n");
    EXPECT_EQ(py().eval("_code").as_int(), 0);
    const std::string text = py().eval("_text").as_str();
    EXPECT_NE(text.find("host 1\r\npython 2\r\nhost 3\r\npython 4\r\ntty\r\nhost 5"), std::string::npos) << text;
    EXPECT_NE(text.find("\rloop: 100%|"), std::string::npos) << testing::PrintToString(text);
    EXPECT_NE(text.find("40/40"), std::string::npos) << text;
}

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new OutputEnvironment);
    return RUN_ALL_TESTS();
}
