#include "after_fork.hpp"

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "errors.hpp"
#include "interrupt.hpp"
#include "release_pool_control.hpp"

namespace pyb::detail {
namespace {

std::atomic<bool> g_forked_child{false};

void on_fork_child() noexcept {
    g_forked_child.store(true, std::memory_order_relaxed);  // the only thread now
    close_gate_after_fork();
    interrupt::forget_after_fork();
    release_pool::control::abandon_after_fork();
}

}  // namespace

const char *const kForkedChildMessage =
    "pybridge: the interpreter belongs to the parent process: this process was forked from it after the "
    "interpreter started, and fork() copies only the forking thread (start a new program with exec, or use "
    "multiprocessing's 'spawn')";

bool in_forked_child() noexcept { return g_forked_child.load(std::memory_order_relaxed); }

void install_fork_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (::pthread_atfork(nullptr, nullptr, &on_fork_child) != 0)
            throw Error("pybridge: pthread_atfork failed; cannot guard forked children");
    });
}

}  // namespace pyb::detail
