// Shared by the benchmarks: sampling (warm-up, then median and min..max of >= 5 samples)
// and the RESULT/RATIO lines ../shared/BENCHMARKS.md asks for.
#pragma once

#include <gil/futex.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bench {

struct Stats {
    double median, min, max;  // per operation, in the unit the caller chose
};

// Median and spread of samples (at least one).
inline Stats summary(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

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
    return summary(std::move(us));
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
    return {summary(std::move(ua)), summary(std::move(ub))};
}

// Cases measured in interleaved rounds: each round runs every case once (`inner` operations
// each, in the order added), so the figures of one round share the machine's state of that
// moment. A ratio of two cases is taken per round, then its median over the rounds: on a VM
// whose speed drifts by 2x within a minute, per-round ratios hold where ratios of medians
// sampled seconds apart do not.
class Rounds {
public:
    // Runs n operations and returns microseconds per operation, or a negative number to be
    // timed here (on the calling thread).
    using Case = std::function<double(long n)>;

    int add(Case c) {
        cases_.push_back(std::move(c));
        return static_cast<int>(cases_.size()) - 1;
    }

    // One warm-up round, then `rounds` timed rounds.
    void run(int rounds, long inner) {
        us_.assign(cases_.size(), {});
        for (int r = -1; r < rounds; ++r) {
            for (size_t c = 0; c < cases_.size(); ++c) {
                const auto t0 = std::chrono::steady_clock::now();
                double us = cases_[c](inner);
                if (us < 0) {
                    us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
                         static_cast<double>(inner);
                }
                if (r >= 0) us_[c].push_back(us);
            }
        }
    }

    Stats stats(int c) const { return summary(us_[static_cast<size_t>(c)]); }

    // Case a over case b, per round; median and spread over the rounds.
    Stats ratio(int a, int b) const {
        std::vector<double> r;
        for (size_t i = 0; i < us_[static_cast<size_t>(a)].size(); ++i)
            r.push_back(us_[static_cast<size_t>(a)][i] / us_[static_cast<size_t>(b)][i]);
        return summary(std::move(r));
    }

private:
    std::vector<Case> cases_;
    std::vector<std::vector<double>> us_;
};

// The hardware floor of any cross-thread round trip: one cache line bounced between two
// spinning threads (write, wait for the echo). A hand-off to the interpreter thread cannot
// beat it; on a VM the floor itself moves (vCPUs on one core, one die or two), and every
// figure that crosses threads moves with it: print it beside them.
inline Stats cacheline_pingpong_us() {
    struct alignas(64) Line {
        std::atomic<long> v{0};
    };
    Line ping, pong;
    constexpr long kRounds = 20000;
    std::atomic<bool> stop{false};
    std::thread echo([&] {
        long seen = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            const long v = ping.v.load(std::memory_order_acquire);
            if (v != seen) pong.v.store(seen = v, std::memory_order_release);
        }
    });
    long n = 0;
    const Stats s = measure_us(7, kRounds, [&] {
        ping.v.store(++n, std::memory_order_release);
        while (pong.v.load(std::memory_order_acquire) != n) pyb::futex::cpu_relax();
    });
    stop.store(true);
    echo.join();
    return s;
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
