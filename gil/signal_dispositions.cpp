#include "signal_dispositions.hpp"

#include <cstring>

namespace pyb::detail {
namespace {

bool same(const struct sigaction &a, const struct sigaction &b) noexcept {
    if ((a.sa_flags & SA_SIGINFO) != (b.sa_flags & SA_SIGINFO) || a.sa_flags != b.sa_flags) return false;
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
