// Every signal disposition the host had before start() is the same after stop(), whatever
// Python installed in between (signal.signal, torch, faulthandler), with Python's own
// handlers off (the default) and on.
#include <bridge/pybridge.hpp>

#include <csignal>
#include <cstring>
#include <string>

#include "child.hpp"

namespace {

extern "C" void host_handler(int) {}
extern "C" void host_info_handler(int, siginfo_t *, void *) {}

// glibc adds SA_RESTORER (its return trampoline) to every handler it installs, SIG_DFL
// included: not part of the disposition a program chooses, so not compared.
#ifdef SA_RESTORER
constexpr int kRestorer = SA_RESTORER;
#elif defined(__linux__)
constexpr int kRestorer = 0x04000000;  // the kernel's value; glibc keeps the macro to itself
#else
constexpr int kRestorer = 0;
#endif

struct Disposition {
    void *handler;
    int flags;
};

Disposition disposition_of(int sig) {
    struct sigaction now {};
    ::sigaction(sig, nullptr, &now);
    return {(now.sa_flags & SA_SIGINFO) ? reinterpret_cast<void *>(now.sa_sigaction)
                                        : reinterpret_cast<void *>(now.sa_handler),
            now.sa_flags & ~kRestorer};
}

std::string python_handlers_are_gone_after_stop(bool python_signals) {
    struct sigaction sa {};
    sa.sa_handler = host_handler;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sa.sa_sigaction = host_info_handler;
    ::sigaction(SIGCHLD, &sa, nullptr);
    std::signal(SIGPIPE, SIG_DFL);
    const int sigs[] = {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGSEGV, SIGUSR1};
    Disposition before[6];
    for (int k = 0; k < 6; ++k) before[k] = disposition_of(sigs[k]);

    pyb::InterpreterConfig config = pyb::config_from_environment();
    config.install_signal_handlers = python_signals;
    pyb::Bridge py(config);
    py.exec(
        "import signal, faulthandler, torch\n"
        "signal.signal(signal.SIGINT, lambda *a: None)\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGCHLD, lambda *a: None)\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGUSR1, lambda *a: None)\n"
        "faulthandler.enable()\n");
    if (disposition_of(SIGINT).handler == before[0].handler) return "Python did not replace SIGINT (test is vacuous)";
    py.stop();
    for (int k = 0; k < 6; ++k) {
        const Disposition now = disposition_of(sigs[k]);
        if (now.handler != before[k].handler || now.flags != before[k].flags)
            return std::string("signal ") + strsignal(sigs[k]) + " was not put back after stop(): " +
                   std::to_string(reinterpret_cast<std::uintptr_t>(now.handler)) + "/" + std::to_string(now.flags) + " vs " +
                   std::to_string(reinterpret_cast<std::uintptr_t>(before[k].handler)) + "/" + std::to_string(before[k].flags);
    }
    return "";
}

}  // namespace

TEST(Signals, HostDispositionsComeBackAfterStop) {
    PYB_IN_OWN_PROCESS([] { return python_handlers_are_gone_after_stop(false); });
}

TEST(Signals, HostDispositionsComeBackAfterStopWithPythonHandlersOn) {
    PYB_IN_OWN_PROCESS([] { return python_handlers_are_gone_after_stop(true); });
}
