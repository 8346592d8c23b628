#include "interpreter.hpp"

#include <pybind11/embed.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <thread>
#include <vector>

#include "after_fork.hpp"
#include "call_queue.hpp"
#include "call_slot.hpp"
#include "futex.hpp"
#include "host_error.hpp"
#include "interrupt.hpp"
#include "output.hpp"
#include "python_error.hpp"
#include "release_pool_control.hpp"
#include "signal_dispositions.hpp"

#ifndef PYBRIDGE_DEFAULT_PYTHON
#define PYBRIDGE_DEFAULT_PYTHON ""
#endif
#ifndef PYBRIDGE_PACKAGE_DIR
#define PYBRIDGE_PACKAGE_DIR ""
#endif

namespace pyb {

const char *to_string(SubmitStatus status) noexcept {
    switch (status) {
        case SubmitStatus::Ok: return "ok";
        case SubmitStatus::NotStarted: return "the interpreter has not been started";
        case SubmitStatus::Stopping: return "the interpreter is stopping";
        case SubmitStatus::Stopped: return "the interpreter has been stopped";
    }
    return "?";
}

namespace detail {

enum class Phase { NotStarted, Starting, Running, Stopping, Stopped };

// Submitters count themselves in `gate` while they push; stop() sets kClosed, after which
// nobody new gets in, and the loop waits for the count to reach zero before it cancels
// what is left in the queue. So no call is ever pushed behind the final drain.
constexpr std::uint64_t kClosed = 1ull << 63;

struct InterpreterState {
    InterpreterConfig config;
    InterpreterInfo info;
    std::thread thread;

    CallQueue queue;
    // Per slot, the last sequence number served (call_slot.hpp). Interpreter thread only.
    std::uint64_t slot_seen[kCallSlots] = {};
    alignas(64) std::atomic<std::uint64_t> gate{kClosed};
    std::atomic<bool> stop_requested{false};
    std::atomic<Phase> phase{Phase::NotStarted};

    std::mutex start_mutex;  // guards start_error; with started_cv, the start hand-shake
    std::condition_variable started_cv;
    std::string start_error;
    std::mutex stop_mutex;  // serializes stop(); held while joining
    SignalDispositions host_signals;  // as the host had them before start()
};

std::exception_ptr failed_call_error(const CallNode *call, Python py) noexcept {
    try {
        try {
            throw;
        } catch (pybind11::error_already_set &e) {
            e.restore();  // back into the error indicator, then captured as plain text
            throw_python_error(py);
        }
    } catch (const PythonError &e) {
        if (call && call->interrupt_requested.load(std::memory_order_acquire) &&
            e.type_name() == interrupt::kInterruptTypeName) {
            if (call->is_deadline_interrupt)
                return std::make_exception_ptr(DeadlineExceeded("pybridge: call interrupted at its deadline"));
            return std::make_exception_ptr(Cancelled("pybridge: call cancelled while running"));
        }
        if (e.type_name() == interrupt::kInterruptTypeName && !(call && call->interrupt_requested.load(std::memory_order_acquire)) &&
            interrupt::stop_interrupt_sent()) {
            return std::make_exception_ptr(
                InterpreterStopped("pybridge: the interpreter stopped while this call ran (interrupted at a bytecode boundary)"));
        }
        return std::current_exception();
    } catch (...) {
        return std::current_exception();
    }
}

bool took_leftover_python_error(Python py, std::exception_ptr &error) noexcept {
    if (!PyErr_Occurred()) return false;
    try {
        throw_python_error(py);  // fetches (and clears) the indicator
    } catch (...) {
        error = std::current_exception();
    }
    return true;
}

}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;
using detail::CallNode;
using detail::CallSlot;
using detail::InterpreterState;
using detail::Phase;

std::atomic<bool> g_started{false};
std::atomic<InterpreterState *> g_state{nullptr};  // the one running interpreter, for run_inline
thread_local bool t_on_interpreter_thread = false;

// Empty if `path` is an executable regular file, else why not.
std::string executable_problem(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::string("cannot be used: ") + std::strerror(errno);
    if (S_ISDIR(st.st_mode)) return "is a directory, not a Python executable";
    if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) return "is not an executable file";
    return {};
}

std::string dirname(const std::string &path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string resolve_python_executable(const InterpreterConfig &config) {
    if (!config.python_executable.empty()) return config.python_executable;
    if (const char *env = std::getenv("PYBRIDGE_PYTHON"); env && *env) return env;
    return PYBRIDGE_DEFAULT_PYTHON;
}

// The installation of the libpython linked here: <prefix> of <prefix>/lib/libpython3.11.so.
std::string linked_python_prefix() {
    Dl_info info{};
    if (!::dladdr(reinterpret_cast<void *>(&Py_InitializeFromConfig), &info) || !info.dli_fname) return {};
    char *real = ::realpath(info.dli_fname, nullptr);
    if (!real) return {};
    std::string prefix = dirname(dirname(real));
    std::free(real);
    return prefix;
}

std::string real_path(const std::string &p) {
    char *real = ::realpath(p.c_str(), nullptr);
    if (!real) return p;
    std::string out = real;
    std::free(real);
    return out;
}

// A venv made from another Python than the libpython linked here — or an executable that
// is not that Python at all — imports the wrong stdlib and fails late ("No module named
// '_struct'"), or starts with a wrong sys.executable: refuse it up front. Accepted: a venv
// whose pyvenv.cfg `home` is the linked Python's bin/ (version checked too), or the linked
// Python's own bin/python3.X.
void check_venv_matches(const std::string &executable) {
    const std::string want = std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION) + ".";
    const std::string linked = linked_python_prefix();
    for (const std::string &cfg_path :
         {dirname(executable) + "/pyvenv.cfg", dirname(dirname(executable)) + "/pyvenv.cfg"}) {
        std::ifstream cfg(cfg_path);
        if (!cfg) continue;
        std::string line;
        while (std::getline(cfg, line)) {
            const auto eq = line.find('=');
            if (eq == std::string::npos) continue;
            std::string key = line.substr(0, line.find_first_of(" \t="));
            const auto start = line.find_first_not_of(" \t", eq + 1);
            const std::string value = start == std::string::npos ? "" : line.substr(start);
            if (key == "version" && (value + ".").rfind(want, 0) != 0) {
                throw Error("pybridge: the virtual environment of '" + executable + "' was made with Python " + value +
                            ", but pybridge is linked against libpython " PY_VERSION
                            "; recreate the venv with that Python");
            }
            if (key == "home" && !linked.empty() && real_path(value) != real_path(linked + "/bin")) {
                throw Error("pybridge: the virtual environment of '" + executable + "' was made from " + value +
                            ", but pybridge is linked against the libpython of " + linked +
                            "; recreate the venv with " + linked + "/bin/python" + std::to_string(PY_MAJOR_VERSION) +
                            "." + std::to_string(PY_MINOR_VERSION));
            }
        }
        return;
    }
    // Not a venv: it must be the linked installation's own interpreter.
    if (!linked.empty() && real_path(dirname(real_path(executable))) != real_path(linked + "/bin")) {
        throw Error("pybridge: '" + executable + "' is neither a virtual environment nor the Python pybridge is "
                    "linked against (" + linked + "/bin/python" + std::to_string(PY_MAJOR_VERSION) + "." +
                    std::to_string(PY_MINOR_VERSION) + "); point PYBRIDGE_PYTHON at a venv made from that Python");
    }
}

// A host may load pybridge as a plugin with dlopen(RTLD_LOCAL): libpython's symbols are
// then invisible to the C extension modules CPython loads later (numpy, _decimal), which
// expect to find them globally. Re-opening the already-loaded libpython with RTLD_GLOBAL
// (RTLD_NOLOAD: never a second copy) makes them visible. Nothing to do when libpython is
// linked into the executable itself.
void make_libpython_symbols_global() {
    Dl_info info{};
    if (!::dladdr(reinterpret_cast<void *>(&Py_InitializeFromConfig), &info) || !info.dli_fname) return;
    if (void *self = ::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) ::dlclose(self);
}

// CPython's path calculation (Modules/getpath.py) takes sys.executable — and with it the
// venv, sys.prefix and site-packages — from PYTHONEXECUTABLE or __PYVENV_LAUNCHER__
// whatever use_environment says: an isolated start is not isolated from them. While
// CPython starts, their entries in `environ` are renamed in place (one byte of the name;
// no allocation, nothing freed, so another host thread's getenv sees a consistent
// environment, only without those two) and restored afterwards.
class HideLauncherVariables {
public:
    explicit HideLauncherVariables(bool hide) {
        if (!hide) return;
        for (char **e = environ; e && *e && hidden_ < kMax; ++e) {
            if (std::strncmp(*e, "PYTHONEXECUTABLE=", 17) == 0 || std::strncmp(*e, "__PYVENV_LAUNCHER__=", 20) == 0) {
                entries_[hidden_++] = *e;
                (*e)[0] = '~';  // no such variable
            }
        }
    }
    ~HideLauncherVariables() {
        for (int i = 0; i < hidden_; ++i) entries_[i][0] = entries_[i][1] == 'Y' ? 'P' : '_';
    }
    HideLauncherVariables(const HideLauncherVariables &) = delete;
    HideLauncherVariables &operator=(const HideLauncherVariables &) = delete;

private:
    static constexpr int kMax = 8;  // each name is normally there once
    char *entries_[kMax] = {};
    int hidden_ = 0;
};

void init_python(const InterpreterConfig &cfg) {
    const std::string executable = resolve_python_executable(cfg);
    if (executable.empty()) {
        throw Error("pybridge: no Python executable configured: set "
                    "InterpreterConfig::python_executable or PYBRIDGE_PYTHON");
    }
    if (const std::string problem = executable_problem(executable); !problem.empty()) {
        throw Error("pybridge: Python executable '" + executable + "' " + problem +
                    " (create the environment with `make venv`, or set PYBRIDGE_PYTHON to a venv's bin/python)");
    }
    if (cfg.argv.empty()) throw Error("pybridge: InterpreterConfig::argv must not be empty");
    check_venv_matches(executable);
    make_libpython_symbols_global();
    // CPython ignores SIGPIPE when it installs its handlers (so a write to a closed pipe
    // raises BrokenPipeError); without them, such a write would kill the host. Do the same
    // when the host left SIGPIPE at its default. Subprocesses get SIG_DFL back (subprocess's
    // restore_signals).
    if (!cfg.install_signal_handlers && cfg.ignore_sigpipe) {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
            current.sa_handler == SIG_DFL)
            std::signal(SIGPIPE, SIG_IGN);
    }

    PyConfig config;
    if (cfg.isolated) {
        PyConfig_InitIsolatedConfig(&config);
    } else {
        PyConfig_InitPythonConfig(&config);
    }
    config.install_signal_handlers = cfg.install_signal_handlers ? 1 : 0;
    config.parse_argv = 0;
    // CPython's path calculation finds pyvenv.cfg next to the executable, so sys.prefix is
    // the venv and sys.executable is a real Python.
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, executable.c_str());
    if (PyStatus_Exception(status)) {
        PyConfig_Clear(&config);
        throw Error(std::string("pybridge: bad Python executable path: ") +
                    (status.err_msg ? status.err_msg : "?"));
    }
    std::vector<const char *> argv;
    for (const std::string &a : cfg.argv) argv.push_back(a.c_str());
    try {
        HideLauncherVariables hide(cfg.isolated);
        pybind11::initialize_interpreter(&config, static_cast<int>(argv.size()), argv.data(),
                                         /*add_program_dir_to_path=*/false);
    } catch (const std::exception &e) {
        throw Error(std::string("pybridge: CPython failed to start with '") + executable +
                    "': " + e.what());
    }
}

// CPython's signal module installs Python's SIGINT handler when it is first imported and
// the process's handler is SIG_DFL, even with install_signal_handlers = 0; the host would
// lose Ctrl-C to a KeyboardInterrupt in whatever call runs. So while CPython starts and
// imports `signal`, a placeholder handler stands in for SIG_DFL (Python then records SIGINT
// as "not ours"), and SIG_DFL is restored after. A SIGINT caught meanwhile is re-raised.
class HideDefaultSigint {
public:
    explicit HideDefaultSigint(bool hide) {
        if (!hide || ::sigaction(SIGINT, nullptr, &previous_) != 0) return;
        if ((previous_.sa_flags & SA_SIGINFO) || previous_.sa_handler != SIG_DFL) return;
        struct sigaction hold {};
        hold.sa_handler = [](int) { caught_.store(true); };
        sigemptyset(&hold.sa_mask);
        active_ = ::sigaction(SIGINT, &hold, nullptr) == 0;
    }
    ~HideDefaultSigint() {
        if (!active_) return;
        ::sigaction(SIGINT, &previous_, nullptr);
        if (caught_.exchange(false)) std::raise(SIGINT);
    }
    HideDefaultSigint(const HideDefaultSigint &) = delete;
    HideDefaultSigint &operator=(const HideDefaultSigint &) = delete;

private:
    struct sigaction previous_ {};
    bool active_ = false;
    static inline std::atomic<bool> caught_{false};
};

void import_signal_module(Python py) {
    PyObject *m = PyImport_ImportModule("signal");
    if (!m) throw_python_error(py);
    Py_DECREF(m);
}

void prepend_sys_path(Python py, const InterpreterConfig &cfg) {
    std::vector<std::string> entries = cfg.extra_sys_path;
    if (cfg.add_pybridge_package_dir && *PYBRIDGE_PACKAGE_DIR)
        entries.push_back(PYBRIDGE_PACKAGE_DIR);
    PyObject *path = PySys_GetObject("path");  // borrowed
    if (!path || !PyList_Check(path)) throw Error("pybridge: sys.path is not a list");
    Py_ssize_t at = 0;
    for (const std::string &e : entries) {
        PyObject *s = PyUnicode_DecodeFSDefaultAndSize(e.data(), static_cast<Py_ssize_t>(e.size()));
        if (!s || PyList_Insert(path, at++, s) != 0) {
            Py_XDECREF(s);
            throw_python_error(py);
        }
        Py_DECREF(s);
    }
}

InterpreterInfo read_info() {
    auto get = [](const char *name) -> std::string {
        PyObject *o = PySys_GetObject(name);  // borrowed
        if (!o || !PyUnicode_Check(o)) return {};
        Py_ssize_t n = 0;
        const char *s = PyUnicode_AsUTF8AndSize(o, &n);
        if (!s) {
            PyErr_Clear();
            return {};
        }
        return std::string(s, static_cast<size_t>(n));
    };
    return {get("version"), get("executable"), get("prefix"), get("base_prefix")};
}

bool torch_loaded() {
    PyObject *modules = PyImport_GetModuleDict();  // borrowed
    return modules && PyDict_GetItemString(modules, "torch") != nullptr;
}

// What Py_FinalizeEx would do first, for when we do not finalize: join non-daemon
// threads, run atexit handlers, flush the standard streams. Errors are printed, not thrown.
void shutdown_without_finalize() {
    PyRun_SimpleString(
        "import sys\n"
        "try:\n"
        "    import threading; threading._shutdown()\n"
        "except Exception: pass\n"
        "import atexit; atexit._run_exitfuncs()\n"
        "for _s in (sys.stdout, sys.stderr):\n"
        "    try: _s.flush()\n"
        "    except Exception: pass\n");
    PyErr_Clear();
}

// 1 while the loop sleeps on it. Static storage, not the InterpreterState: a release
// racing stop() may wake the loop after the state is gone (one interpreter per process).
alignas(64) std::atomic<std::uint32_t> g_loop_sleeping{0};

void wake_loop() noexcept {
    // All seq_cst, pairing with sleep_until_work(): the producer published its work with a
    // seq_cst write and now reads the word; the loop wrote the word and then reads the
    // work. One of the two sees the other, so no wake-up is lost.
    if (g_loop_sleeping.load(std::memory_order_seq_cst) == 1 && g_loop_sleeping.exchange(0) == 1) {
        futex::wake(g_loop_sleeping, 1);
    }
}


// Whether slot `i` holds a call not served yet. seq_cst: the sleep check's read (below).
bool slot_call_waiting(const InterpreterState &state, int i) noexcept {
    return detail::call_slots()[i].seq.load(std::memory_order_seq_cst) != state.slot_seen[i];
}

bool slot_calls_waiting(const InterpreterState &state) noexcept {
    for (int i = 0, n = detail::call_slots_in_use(); i < n; ++i) {
        if (slot_call_waiting(state, i)) return true;
    }
    return false;
}

bool has_work(InterpreterState &state) noexcept {
    return !state.queue.empty() || slot_calls_waiting(state) || release_pool::control::pending() ||
           state.stop_requested.load(std::memory_order_acquire);
}

void sleep_until_work(InterpreterState &state) noexcept {
    g_loop_sleeping.store(1, std::memory_order_seq_cst);
    if (has_work(state)) {
        g_loop_sleeping.store(0, std::memory_order_relaxed);
        return;
    }
    while (g_loop_sleeping.load(std::memory_order_acquire) == 1) futex::wait(g_loop_sleeping, 1);
}

std::exception_ptr stopped_before_running() {
    return std::make_exception_ptr(InterpreterStopped("pybridge: the interpreter stopped before this call ran"));
}

void report_posted_failure(const InterpreterConfig &config, std::exception_ptr error) noexcept {
    try {
        if (config.error_sink) {
            config.error_sink(error);
            return;
        }
        std::rethrow_exception(error);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "pybridge: a posted call failed: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "pybridge: a posted call failed\n");
    }
}

void finish_call(InterpreterState *state, CallNode *call) noexcept {
    if (call->fire_and_forget &&
        (call->state.load(std::memory_order_acquire) & detail::kStateMask) == detail::kFailed && state) {
        report_posted_failure(state->config, call->error);
    }
    call->release();  // the queue's reference
}

bool past_deadline(const CallNode *call) noexcept {
    return call->deadline_ns != 0 &&
           std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count() >=
               call->deadline_ns;
}

// The queue's reference goes; so does the watchdog's record of a deadline the call beat.
void drop_call(CallNode *call) noexcept {
    if (call->deadline_ns != 0) detail::interrupt::remove_deadline(call);
    call->release();
}

void run_call(InterpreterState &state, CallNode *call, Python py) noexcept {
    if (!call->start_running()) {  // cancelled while queued
        call->discard();
        drop_call(call);
        return;
    }
    if (past_deadline(call)) {  // due before it started (the watchdog may not have woken yet)
        call->discard();
        call->error = std::make_exception_ptr(DeadlineExceeded("pybridge: call's deadline passed before it ran"));
        call->finish(detail::kCancelled);
        drop_call(call);
        return;
    }
    detail::interrupt::set_running(call);
    // A cancel() that raced with start_running() set the flag before reading the running
    // call (both seq_cst): one of the two sides sees the other.
    detail::CallState done = detail::kCancelled;
    if (call->interrupt_requested.load(std::memory_order_seq_cst)) {
        call->discard();
        call->error = call->is_deadline_interrupt
                          ? std::make_exception_ptr(DeadlineExceeded("pybridge: call's deadline passed before it ran"))
                          : std::make_exception_ptr(Cancelled("pybridge: call cancelled before it ran"));
    } else {
        done = call->invoke(py);
    }
    detail::interrupt::set_running(nullptr);
    detail::interrupt::clear_leftover(py);
    call->finish(done);
    if (call->deadline_ns != 0) detail::interrupt::remove_deadline(call);
    finish_call(&state, call);
}

// A call handed over through a slot. Its reply is on its host thread's stack, which may be
// gone the moment the reply is final, so nothing touches the call after that. Nothing can
// cancel it (call() has no Future) and it has no deadline; SIGINT can interrupt it.
void run_slot_call(CallSlot &slot, Python py) noexcept {
    detail::interrupt::set_running_slot_call();
    const detail::CallState done = slot.run(slot, py);
    detail::interrupt::set_running(nullptr);
    detail::interrupt::clear_leftover(py);
    detail::finish_state(slot.reply->state, done);
}

// Spins holding the GIL while work may arrive soon; the budget adapts like the hosts'.
bool spin_for_work(InterpreterState &state, std::int64_t &budget_ns) noexcept {
    constexpr std::int64_t kMin = 20'000, kMax = 200'000;
    const auto until = Clock::now() + std::chrono::nanoseconds(budget_ns);
    for (unsigned i = 1;; ++i) {
        if (has_work(state)) {
            budget_ns = std::min(kMax, budget_ns * 2);
            return true;
        }
        futex::cpu_relax();
        if ((i & 63) == 0 && Clock::now() >= until) break;
    }
    budget_ns = std::max(kMin, budget_ns - budget_ns / 8);
    return false;
}

// What the loop does between calls.
class BetweenCalls {
public:
    void after_call() {
        // The waiter had gone to sleep (a long call): give it this CPU now rather than
        // spin beside it. On a machine with few cores, torch's worker threads spin after
        // their parallel region too, and the woken host would wait for a core.
        if (CallNode::take_woke_sleeper()) std::this_thread::yield();
        // Busy for long: hand the GIL to Python's own threads now and then (a brief
        // release lets a thread that asked for the GIL take it).
        if ((++calls_ & 63) == 0 && Clock::now() - last_gil_release_ > std::chrono::milliseconds(5)) {
            PyEval_RestoreThread(PyEval_SaveThread());
            last_gil_release_ = Clock::now();
        }
    }
    void after_sleep() { last_gil_release_ = Clock::now(); }

private:
    Clock::time_point last_gil_release_ = Clock::now();
    unsigned calls_ = 0;
};

bool stopping(const InterpreterState &state) noexcept {
    return state.stop_requested.load(std::memory_order_acquire);
}

// One round of the loop: the slots are read first, then the queued calls pushed before
// that read run, then the slot calls. So a call() runs after whatever its thread (or
// anything that happened before it) queued, and a busy queue cannot starve the slots.
// Returns whether any call ran.
bool run_round(InterpreterState &state, Python py, BetweenCalls &between) {
    int waiting[detail::kCallSlots];
    int n_waiting = 0;
    for (int i = 0, n = detail::call_slots_in_use(); i < n; ++i) {
        if (slot_call_waiting(state, i)) waiting[n_waiting++] = i;
    }
    bool ran = false;
    // The newest call now, or the stub when pop() had just put it back behind the last call
    // (a call pushed then sits before the stub: popped until the stub is reached).
    const detail::QueueLink *newest = state.queue.newest();
    // Nothing was queued at that read: a call pushed after it waits for the next round, as
    // its releases may have missed the drain below.
    const bool queued = !(newest == state.queue.stub() && state.queue.at_stub());
    // A call runs after every release made before it was queued (or its slot read).
    release_pool::control::drain_before_calls(py);
    if (queued) {
        while (CallNode *call = state.queue.pop()) {
            // Compared before the call may be freed.
            const bool last = call == newest || (newest == state.queue.stub() && state.queue.at_stub());
            run_call(state, call, py);
            between.after_call();
            ran = true;
            if (last || stopping(state)) break;
        }
    }
    if (n_waiting == 0) return ran;
    // Releases queued while the queued calls ran go first, as above.
    release_pool::control::drain_before_calls(py);
    for (int k = 0; k < n_waiting && !stopping(state); ++k) {
        const int i = waiting[k];
        CallSlot &slot = detail::call_slots()[i];
        state.slot_seen[i] = slot.seq.load(std::memory_order_acquire);
        run_slot_call(slot, py);
        between.after_call();
    }
    return true;
}

// Stopping: calls handed over through a slot and not run get InterpreterStopped.
void cancel_slot_calls(InterpreterState &state) noexcept {
    for (int i = 0, n = detail::call_slots_in_use(); i < n; ++i) {
        if (!slot_call_waiting(state, i)) continue;
        CallSlot &slot = detail::call_slots()[i];
        state.slot_seen[i] = slot.seq.load(std::memory_order_acquire);
        slot.reply->error = stopped_before_running();
        detail::finish_state(slot.reply->state, detail::kCancelled);  // the reply may be gone from here on
    }
}

void run_loop(InterpreterState &state, Python py) {
    std::int64_t spin_ns = 20'000;
    BetweenCalls between;
    for (;;) {
        if (stopping(state)) break;
        // Releases queued by host threads go first: a call sees every drop made before it.
        if (release_pool::control::pending()) release_pool::control::drain(py);
        if (run_round(state, py, between)) continue;
        if (spin_for_work(state, spin_ns)) continue;
        PyThreadState *ts = PyEval_SaveThread();  // idle: the GIL goes to Python's threads
        sleep_until_work(state);
        PyEval_RestoreThread(ts);
        between.after_sleep();
    }
    // Stopping. Wait out submitters mid-push, then cancel everything still queued.
    while ((state.gate.load(std::memory_order_acquire) & ~detail::kClosed) != 0) std::this_thread::yield();
    while (CallNode *call = state.queue.pop()) {
        call->cancel_queued(stopped_before_running());  // one exception per waiter
        call->discard();
        drop_call(call);
    }
    cancel_slot_calls(state);
}

void set_on_thread(bool on) {
    t_on_interpreter_thread = on;
    release_pool::control::set_holds_gil(on);
}

}  // namespace

void Interpreter::thread_main(InterpreterState *state) {
    const Python py = token();
    detail::set_host_wait(state->config.host_wait);
    try {
        {
            HideDefaultSigint hide(!state->config.install_signal_handlers);
            init_python(state->config);
            try {
                import_signal_module(py);
            } catch (...) {
                pybind11::finalize_interpreter();
                throw;
            }
        }
        try {
            prepend_sys_path(py, state->config);
            detail::interrupt::open(py, state->config.sigint_interrupts_call);
            create_host_error_type(py);
            if (state->config.route_python_output) detail::output::install(py, state->config);
        } catch (...) {
            pybind11::finalize_interpreter();
            throw;
        }
    } catch (const std::exception &e) {
        // Refused before CPython was touched (bad path, wrong venv): a retry may start it.
        if (!Py_IsInitialized()) g_started.store(false);
        std::lock_guard<std::mutex> lock(state->start_mutex);
        state->start_error = e.what();
        state->phase.store(Phase::Stopped);
        state->started_cv.notify_all();
        return;
    }
    state->info = read_info();
    set_on_thread(true);
    release_pool::control::open(wake_loop);
    g_state.store(state);
    for (int i = 0; i < detail::kCallSlots; ++i) state->slot_seen[i] = detail::call_slots()[i].seq.load();
    {
        std::lock_guard<std::mutex> lock(state->start_mutex);
        state->phase.store(Phase::Running);
        state->gate.fetch_and(~detail::kClosed);  // submissions open
    }
    state->started_cv.notify_all();

    run_loop(*state, py);  // returns once stop() was seen and the queue is empty

    release_pool::control::close(py);
    detail::interrupt::close(py);
    detail::output::uninstall();  // the config (and its sink) is not used after this
    g_state.store(nullptr);
    const bool finalize = state->config.finalize == Finalize::Always ||
                          (state->config.finalize == Finalize::Auto && !torch_loaded());
    if (finalize) {
        pybind11::finalize_interpreter();
        set_on_thread(false);
        release_pool::control::run_python_exit_hooks();
    } else {
        shutdown_without_finalize();
        // Python ran its last code of ours: host memory still lent to it goes back now.
        release_pool::control::run_python_exit_hooks();
        set_on_thread(false);
        PyEval_SaveThread();  // leave the GIL to Python's daemon threads
    }
    state->phase.store(Phase::Stopped);
}

Interpreter::Interpreter() : state_(std::make_unique<InterpreterState>()) {}

Interpreter::Interpreter(InterpreterConfig config) : Interpreter() { start(std::move(config)); }

namespace detail {
void close_gate_after_fork() noexcept {
    // g_state is set while the interpreter runs; a child forked before start or after
    // stop has nothing to close (the gate is closed then).
    if (InterpreterState *state = g_state.load(std::memory_order_relaxed)) {
        state->gate.fetch_or(kClosed);
        state->phase.store(Phase::Stopped);
    }
}
}  // namespace detail

void Interpreter::start(InterpreterConfig config) {
    if (detail::in_forked_child()) throw InterpreterStopped(detail::kForkedChildMessage);
    detail::install_fork_handler();
    if (state_->phase.load() != Phase::NotStarted || g_started.exchange(true)) {
        throw Error("pybridge: an Interpreter was already started in this process; CPython "
                    "with extension modules loaded cannot be restarted, so share one Interpreter");
    }
    state_->config = std::move(config);
    state_->host_signals.record();
    std::unique_lock<std::mutex> lock(state_->start_mutex);
    state_->phase.store(Phase::Starting);
    state_->thread = std::thread(&Interpreter::thread_main, state_.get());
    state_->started_cv.wait(lock, [&] { return state_->phase.load() != Phase::Starting; });
    if (state_->phase.load() == Phase::Stopped) {
        std::string why = state_->start_error;
        lock.unlock();
        state_->thread.join();
        state_->host_signals.restore();
        state_->phase.store(Phase::NotStarted);  // nothing ran: a later start() may retry
        throw Error(why);
    }
}

Interpreter::~Interpreter() {
    if (detail::in_forked_child()) {
        // The parent's interpreter: its thread is not in this process and its locks may
        // be held for ever. Nothing of it is touched, not even freed.
        (void)state_.release();
        return;
    }
    try {
        stop();
    } catch (...) {
        // Destroyed on its own thread (a Python object owned the Interpreter): cannot join
        // ourselves; the thread ends when the process does.
        if (state_ && state_->thread.joinable()) state_->thread.detach();
    }
}

SubmitStatus Interpreter::enter_gate() noexcept {
    InterpreterState &st = *state_;
    if (!(st.gate.fetch_add(1, std::memory_order_seq_cst) & detail::kClosed)) return SubmitStatus::Ok;
    st.gate.fetch_sub(1, std::memory_order_release);
    switch (st.phase.load()) {
        case Phase::NotStarted:
        case Phase::Starting: return SubmitStatus::NotStarted;
        case Phase::Running:
        case Phase::Stopping: return SubmitStatus::Stopping;
        case Phase::Stopped: return SubmitStatus::Stopped;
    }
    return SubmitStatus::Stopped;
}

void Interpreter::leave_gate() noexcept {
    state_->gate.fetch_sub(1, std::memory_order_release);
    wake_loop();
}

SubmitStatus Interpreter::publish(CallSlot *slot) noexcept {
    if (const SubmitStatus status = enter_gate(); status != SubmitStatus::Ok) return status;
    slot->publish();
    leave_gate();
    return SubmitStatus::Ok;
}

SubmitStatus Interpreter::enqueue(CallNode *first, CallNode *last, const CallOptions &options) noexcept {
    if (const SubmitStatus status = enter_gate(); status != SubmitStatus::Ok) return status;
    InterpreterState &st = *state_;
    if (options.deadline) {
        first->deadline_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 options.deadline->time_since_epoch()).count();
        if (first->deadline_ns == 0) first->deadline_ns = 1;  // 0 means "none"
        try {
            detail::interrupt::add_deadline(first, *options.deadline);
        } catch (...) {
            // Out of memory for the watchdog's record: checked when the call starts only.
        }
    }
    st.queue.push(first, last);
    leave_gate();
    return SubmitStatus::Ok;
}

void Interpreter::run_inline(CallNode *node) noexcept {
    node->start_running();
    node->finish(node->invoke(token()));
    finish_call(g_state.load(std::memory_order_acquire), node);
}

void Interpreter::throw_not_running(SubmitStatus status) const {
    if (detail::in_forked_child()) throw InterpreterStopped(detail::kForkedChildMessage);
    throw InterpreterStopped(std::string("pybridge: cannot run the call: ") + to_string(status));
}

void Interpreter::stop() {
    if (detail::in_forked_child()) return;  // the parent's to stop (after_fork.hpp)
    if (on_interpreter_thread()) {
        throw Error("pybridge: stop() called from the interpreter thread would wait for itself; "
                    "call it from a host thread");
    }
    std::lock_guard<std::mutex> serial(state_->stop_mutex);
    Phase expected = Phase::Running;
    if (state_->phase.compare_exchange_strong(expected, Phase::Stopping)) {
        state_->gate.fetch_or(detail::kClosed);
        state_->stop_requested.store(true, std::memory_order_release);
        wake_loop();
        // A running call that would never return (`while True: pass`, a server loop) would
        // keep this join waiting for ever: it is interrupted at its next bytecode boundary.
        detail::interrupt::interrupt_for_stop();
    } else if (expected == Phase::NotStarted) {
        state_->phase.store(Phase::Stopped);
    }
    if (state_->thread.joinable()) {
        state_->thread.join();
        // Python ran its last code of ours: the host's handlers come back (a C handler of
        // Python's must not run with the interpreter stopped).
        state_->host_signals.restore();
    }
}

bool Interpreter::running() const noexcept { return state_->phase.load() == Phase::Running; }

const InterpreterInfo &Interpreter::info() const noexcept { return state_->info; }

bool Interpreter::on_interpreter_thread() noexcept { return t_on_interpreter_thread; }

Python Python::assume_interpreter_thread() {
    if (!t_on_interpreter_thread) {
        throw Error("pybridge: this needs the interpreter thread running a call; it was reached "
                    "from another thread (host functions can only be called from the interpreter thread)");
    }
    return Python();
}

}  // namespace pyb
