#include "signal_dispositions.hpp"

#include <cstring>

namespace pyb::detail {
namespace {

// glibc adds SA_RESTORER (its return trampoline) to whatever it installs: not a choice of
// the program's, so not compared (a SIG_DFL never touched reads back without it).
#ifdef SA_RESTORER
constexpr int kIgnoredFlags = SA_RESTORER;
#elif defined(__linux__)
constexpr int kIgnoredFlags = 0x04000000;  // the kernel's value; glibc keeps the macro to itself
#else
constexpr int kIgnoredFlags = 0;
#endif

bool same(const struct sigaction &a, const struct sigaction &b) noexcept {
    if ((a.sa_flags & ~kIgnoredFlags) != (b.sa_flags & ~kIgnoredFlags)) return false;
    if (a.sa_flags & SA_SIGINFO) {
        if (a.sa_sigaction != b.sa_sigaction) return false;
    } else if (a.sa_handler != b.sa_handler) {
        return false;
    }
    return std::memcmp(&a.sa_mask, &b.sa_mask, sizeof a.sa_mask) == 0;
}

}  // namespace

void SignalDispositions::record() noexcept {
    for (int sig = 1; sig < kSignals; ++sig) {
        // sigaction refuses SIGKILL, SIGSTOP and the C library's own real-time signals.
        recorded_[sig] = sig != SIGKILL && sig != SIGSTOP && ::sigaction(sig, nullptr, &saved_[sig]) == 0;
    }
}

void SignalDispositions::restore() noexcept {
    for (int sig = 1; sig < kSignals; ++sig) {
        if (!recorded_[sig]) continue;
        struct sigaction now {};
        if (::sigaction(sig, nullptr, &now) == 0 && !same(now, saved_[sig])) ::sigaction(sig, &saved_[sig], nullptr);
    }
}

}  // namespace pyb::detail
