// pybridge/gil/signal_dispositions.hpp — the host's signal handlers, the same after stop()
// as before start(), whatever Python did in between.
//
// Python code (or a library it imports: torch's DataLoader sets SIGCHLD, the signal
// module SIGINT, faulthandler the fatal signals) may install handlers of its own. Left in
// place after stop(), a C handler of Python's would run with the interpreter stopped, and
// a Python-level handler never again. start() records every disposition (handler, flags,
// mask) and stop() puts back each one that differs, once Python ran its last code.
// A handler the host itself installs between start() and stop() is replaced too: install
// it again after stop().
#pragma once

#include <csignal>

namespace pyb::detail {

class SignalDispositions {
public:
    // Records the disposition of every signal that can be caught (not SIGKILL/SIGSTOP).
    void record() noexcept;
    // Restores each recorded disposition that changed since record(). Idempotent.
    void restore() noexcept;

private:
    static constexpr int kSignals = 65;  // Linux: 1 .. 64
    struct sigaction saved_[kSignals] = {};
    bool recorded_[kSignals] = {};
};

}  // namespace pyb::detail
