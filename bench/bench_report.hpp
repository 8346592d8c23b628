// Shared by the benchmarks: sampling (warm-up, then median and min..max of >= 5 samples)
// and the RESULT/RATIO lines ../shared/BENCHMARKS.md asks for.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace bench {

struct Stats {
    double median, min, max;  // per operation, in the unit the caller chose
};

// Runs op() `inner` times per sample, `samples` samples after one warm-up sample; returns
// microseconds per op().
template <class F>
Stats measure_us(int samples, long inner, F &&op) {
    using Clock = std::chrono::steady_clock;
    for (long i = 0; i < inner; ++i) op();  // warm-up
    std::vector<double> us;
    for (int s = 0; s < samples; ++s) {
        const auto t0 = Clock::now();
        for (long i = 0; i < inner; ++i) op();
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / static_cast<double>(inner));
    }
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us.front(), us.back()};
}

// Two operations compared side by side: their samples alternate (a, b, a, b, ...) so that
// drift in the machine's speed (other tenants, frequency, heap state) hits both alike.
template <class A, class B>
std::pair<Stats, Stats> measure_pair_us(int samples, long inner, A &&a, B &&b) {
    using Clock = std::chrono::steady_clock;
    auto sample = [inner](auto &op) {
        const auto t0 = Clock::now();
        for (long i = 0; i < inner; ++i) op();
        return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / static_cast<double>(inner);
    };
    sample(a);  // warm-up
    sample(b);
    std::vector<double> ua, ub;
    for (int s = 0; s < samples; ++s) {
        ua.push_back(sample(a));
        ub.push_back(sample(b));
    }
    auto stats = [](std::vector<double> &v) {
        std::sort(v.begin(), v.end());
        return Stats{v[v.size() / 2], v.front(), v.back()};
    };
    return {stats(ua), stats(ub)};
}

// Collects RESULT/RATIO lines while the human-readable table is printed, then prints
// them last, as ../shared/BENCHMARKS.md wants.
class Report {
public:
    void result(const std::string &name, double value, const char *unit) {
        add("RESULT name=" + name + " value=" + fmt(value) + " unit=" + unit);
    }
    // `op` is "<=" or ">=".
    void ratio(const std::string &name, double value, const char *op, double target) {
        const bool pass = op[0] == '<' ? value <= target : value >= target;
        add("RATIO  name=" + name + " value=" + fmt(value) + " target" + op + fmt(target) +
            " status=" + (pass ? "PASS" : "MISS"));
    }
    void print() const {
        for (const auto &l : lines_) std::printf("%s\n", l.c_str());
    }

private:
    static std::string fmt(double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4g", v);
        return buf;
    }
    void add(std::string line) { lines_.push_back(std::move(line)); }
    std::vector<std::string> lines_;
};

}  // namespace bench
