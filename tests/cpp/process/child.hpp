// Helpers for tests that need a process of their own: a scenario runs inside a gtest death
// test ("threadsafe" style: the test binary re-executed, so no interpreter was started
// before), and may fork children of its own, waited for with a time limit.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace pyb_process {

// Runs `scenario` in a fresh process; it passes when it returns "" (the process then exits
// with status 0 through std::exit, so static destructors and atexit handlers run too).
#define PYB_IN_OWN_PROCESS(scenario)                                               \
    EXPECT_EXIT(                                                                   \
        {                                                                          \
            const std::string why_ = (scenario)();                                 \
            if (!why_.empty()) {                                                   \
                std::fprintf(stderr, "scenario failed: %s\n", why_.c_str());       \
                std::fflush(stderr);                                               \
                std::_Exit(1);                                                     \
            }                                                                      \
            std::exit(0);                                                          \
        },                                                                         \
        ::testing::ExitedWithCode(0), "")

struct ChildResult {
    bool exited = false;   // ended within the limit (else killed)
    int status = 0;        // waitpid's status
    double seconds = 0;    // from fork to the end (or the kill)
    std::string describe() const {
        char buf[160];
        if (!exited) std::snprintf(buf, sizeof buf, "still running after %.2f s (killed)", seconds);
        else if (WIFEXITED(status)) std::snprintf(buf, sizeof buf, "exited %d after %.3f s", WEXITSTATUS(status), seconds);
        else std::snprintf(buf, sizeof buf, "killed by signal %d after %.3f s", WTERMSIG(status), seconds);
        return buf;
    }
    bool clean_exit_within(double limit) const {
        return exited && WIFEXITED(status) && WEXITSTATUS(status) == 0 && seconds <= limit;
    }
};

// fork(); the child runs `child` and then exits with std::exit(its result) — a real exit.
// The parent waits at most `limit_s`, then kills it.
inline ChildResult fork_and_wait(const std::function<int()> &child, double limit_s) {
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) std::exit(child());
    ChildResult r;
    for (;;) {
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const pid_t done = ::waitpid(pid, &r.status, WNOHANG);
        if (done == pid) {
            r.exited = true;
            return r;
        }
        if (r.seconds > limit_s) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &r.status, 0);
            return r;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace pyb_process
