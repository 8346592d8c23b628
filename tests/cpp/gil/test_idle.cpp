// While the host waits, the interpreter thread sleeps (no busy core) and leaves the GIL
// to Python's own threads.
#include <ctime>
#include <thread>

#include "gil_test_support.hpp"

using namespace std::chrono_literals;

namespace {

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

TEST(Idle, PythonThreadKeepsCountingWhileTheHostWaits) {
    gil_test::exec(
        "import threading, time\n"
        "_count = 0\n"
        "_stop_counting = False\n"
        "def _counter():\n"
        "    global _count\n"
        "    while not _stop_counting:\n"
        "        _count += 1\n"
        "        time.sleep(0.001)\n"
        "_counter_thread = threading.Thread(target=_counter, daemon=True)\n"
        "_counter_thread.start()\n");
    // ~300 ticks a second; none if the idle loop held the GIL. Progress, not a rate: a
    // loaded machine may tick slower.
    const long before = gil_test::eval_long("_count");
    const bool counted = gil_test::wait_until([&] {
        std::this_thread::sleep_for(10ms);  // the host waits; Python runs
        return gil_test::eval_long("_count") - before > 50;
    });
    gil_test::exec("_stop_counting = True\n_counter_thread.join()\n");
    EXPECT_TRUE(counted) << "Python's thread made no progress while the interpreter was idle";
}

TEST(Idle, IdleInterpreterUsesUnderOnePercentOfACore) {
    gil_test::eval_long("0");
    std::this_thread::sleep_for(200ms);  // let the adaptive spin run out
    const double cpu0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(5s);
    const double cpu = process_cpu_seconds() - cpu0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(cpu / wall, 0.01) << "idle process used " << cpu << " s of CPU in " << wall << " s";
}
