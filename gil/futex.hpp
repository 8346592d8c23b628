// pybridge/gil/futex.hpp — the few waiting primitives the dispatch path is built on.
//
// Linux futexes on a 32-bit atomic: wait() sleeps only while the word still holds the
// value the caller saw, so a wake between the check and the sleep is never lost.
// Thread contract: all functions may be called from any thread; wake() is also safe in
// a signal handler (one raw syscall).
#pragma once

#include <atomic>
#include <cstdint>

namespace pyb::futex {

// Sleeps while `word` == `expected`, at most `timeout_ns` nanoseconds (< 0: no limit).
// May return spuriously; callers re-check their condition.
void wait(std::atomic<std::uint32_t> &word, std::uint32_t expected, std::int64_t timeout_ns = -1) noexcept;

// Wakes up to `count` threads sleeping on `word` (INT32_MAX: all).
void wake(std::atomic<std::uint32_t> &word, int count) noexcept;

// A pause hint for spin loops.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

}  // namespace pyb::futex
