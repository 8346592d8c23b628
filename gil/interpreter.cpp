#include "interpreter.hpp"

#include <pybind11/embed.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include "python_error.hpp"
#include "release_pool_control.hpp"

#ifndef PYBRIDGE_DEFAULT_PYTHON
#define PYBRIDGE_DEFAULT_PYTHON ""
#endif
#ifndef PYBRIDGE_PACKAGE_DIR
#define PYBRIDGE_PACKAGE_DIR ""
#endif

namespace pyb {
namespace detail {

enum class Phase { Starting, Running, Stopping, Stopped };

struct InterpreterState {
    InterpreterConfig config;
    InterpreterInfo info;
    std::thread thread;

    std::mutex mutex;  // guards everything below
    std::condition_variable wake;
    std::deque<std::unique_ptr<Task>> queue;
    Phase phase = Phase::Starting;
    bool release_pending = false;  // the release pool asked the loop to drain
    std::string start_error;
    // Set by stop(): calls already taken off the queue but not started are rejected too.
    std::atomic<bool> stop_requested{false};

    std::mutex stop_mutex;  // serializes stop(); held while joining
};

std::exception_ptr portable_current_exception(Python py) noexcept {
    try {
        throw;
    } catch (pybind11::error_already_set &e) {
        e.restore();  // back into the error indicator, then captured as plain text
        return std::make_exception_ptr(fetch_python_error(py));
    } catch (...) {
        return std::current_exception();
    }
}

}  // namespace detail

namespace {

using detail::InterpreterState;
using detail::Phase;

std::atomic<bool> g_started{false};
thread_local bool t_on_interpreter_thread = false;

bool file_exists(const std::string &path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
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

// A venv made from another Python than the libpython linked here imports the wrong
// stdlib and fails late ("No module named '_struct'"): refuse it up front.
void check_venv_matches(const std::string &executable) {
    for (const std::string &cfg_path :
         {dirname(executable) + "/pyvenv.cfg", dirname(dirname(executable)) + "/pyvenv.cfg"}) {
        std::ifstream cfg(cfg_path);
        if (!cfg) continue;
        std::string line;
        const std::string want = std::to_string(PY_MAJOR_VERSION) + "." +
                                 std::to_string(PY_MINOR_VERSION) + ".";
        while (std::getline(cfg, line)) {
            if (line.rfind("version", 0) != 0) continue;
            auto eq = line.find('=');
            if (eq == std::string::npos) continue;
            std::string version = line.substr(line.find_first_not_of(" \t", eq + 1));
            if ((version + ".").rfind(want, 0) != 0) {
                throw Error("pybridge: the virtual environment of '" + executable +
                            "' was made with Python " + version + ", but pybridge is linked " +
                            "against libpython " PY_VERSION "; recreate the venv with that Python");
            }
        }
        return;
    }
}

void init_python(const InterpreterConfig &cfg) {
    const std::string executable = resolve_python_executable(cfg);
    if (executable.empty()) {
        throw Error("pybridge: no Python executable configured: set "
                    "InterpreterConfig::python_executable or PYBRIDGE_PYTHON");
    }
    if (!file_exists(executable)) {
        throw Error("pybridge: Python executable '" + executable +
                    "' does not exist (create the environment with `make venv`, or set "
                    "PYBRIDGE_PYTHON to a venv's bin/python)");
    }
    if (cfg.argv.empty()) throw Error("pybridge: InterpreterConfig::argv must not be empty");
    check_venv_matches(executable);

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
        pybind11::initialize_interpreter(&config, static_cast<int>(argv.size()), argv.data(),
                                         /*add_program_dir_to_path=*/false);
    } catch (const std::exception &e) {
        throw Error(std::string("pybridge: CPython failed to start with '") + executable +
                    "': " + e.what());
    }
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

void wake_loop(void *ctx) {
    auto *state = static_cast<InterpreterState *>(ctx);
    {
        std::lock_guard<std::mutex> lock(state->mutex);
        state->release_pending = true;
    }
    state->wake.notify_one();
}

void set_on_thread(bool on) {
    t_on_interpreter_thread = on;
    release_pool::control::set_holds_gil(on);
}

std::exception_ptr stopped_before_running() {
    return std::make_exception_ptr(
        InterpreterStopped("pybridge: the interpreter stopped before this call ran"));
}

void run_loop(InterpreterState &state, Python py) {
    PyThreadState *ts = PyEval_SaveThread();  // idle: GIL released for Python's own threads
    for (;;) {
        std::deque<std::unique_ptr<detail::Task>> batch;
        bool stopping = false;
        {
            std::unique_lock<std::mutex> lock(state.mutex);
            state.wake.wait(lock, [&] {
                return !state.queue.empty() || state.release_pending ||
                       state.phase == Phase::Stopping;
            });
            batch.swap(state.queue);
            state.release_pending = false;
            stopping = state.phase == Phase::Stopping;
        }
        PyEval_RestoreThread(ts);
        set_on_thread(true);
        release_pool::control::drain(py);
        for (auto &task : batch) {
            if (state.stop_requested.load(std::memory_order_relaxed)) {
                task->reject(stopped_before_running());
            } else {
                task->run(py);
            }
            task.reset();  // destroy captures here, with the GIL
            if (release_pool::control::pending()) release_pool::control::drain(py);
        }
        set_on_thread(false);
        ts = PyEval_SaveThread();
        if (stopping) break;
    }
    PyEval_RestoreThread(ts);
}

}  // namespace

void Interpreter::thread_main(InterpreterState *state) {
    const Python py = token();
    try {
        init_python(state->config);
        try {
            prepend_sys_path(py, state->config);
        } catch (...) {
            pybind11::finalize_interpreter();
            throw;
        }
    } catch (const std::exception &e) {
        // Refused before CPython was touched (bad path, wrong venv): a retry may start it.
        if (!Py_IsInitialized()) g_started.store(false);
        std::lock_guard<std::mutex> lock(state->mutex);
        state->start_error = e.what();
        state->phase = Phase::Stopped;
        state->wake.notify_all();
        return;
    }
    state->info = read_info();
    release_pool::control::open(wake_loop, state);
    {
        std::lock_guard<std::mutex> lock(state->mutex);
        state->phase = Phase::Running;
    }
    state->wake.notify_all();

    run_loop(*state, py);  // returns holding the GIL, once stop() was seen

    set_on_thread(true);
    release_pool::control::close(py);
    const bool finalize = state->config.finalize == Finalize::Always ||
                          (state->config.finalize == Finalize::Auto && !torch_loaded());
    if (finalize) {
        pybind11::finalize_interpreter();
        set_on_thread(false);
    } else {
        shutdown_without_finalize();
        set_on_thread(false);
        PyEval_SaveThread();  // leave the GIL to Python's daemon threads
    }
    std::lock_guard<std::mutex> lock(state->mutex);
    state->phase = Phase::Stopped;
}

Interpreter::Interpreter(InterpreterConfig config) : state_(std::make_unique<InterpreterState>()) {
    if (g_started.exchange(true)) {
        throw Error("pybridge: an Interpreter was already started in this process; CPython "
                    "with extension modules loaded cannot be restarted, so share one Interpreter");
    }
    state_->config = std::move(config);
    state_->thread = std::thread(&Interpreter::thread_main, state_.get());
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->wake.wait(lock, [&] { return state_->phase != Phase::Starting; });
    if (state_->phase == Phase::Stopped) {
        std::string why = state_->start_error;
        lock.unlock();
        state_->thread.join();
        throw Error(why);
    }
}

Interpreter::~Interpreter() {
    try {
        stop();
    } catch (...) {
        // Destroyed on its own thread (a Python object owned the Interpreter): cannot join
        // ourselves; the thread ends when the process does.
        if (state_ && state_->thread.joinable()) state_->thread.detach();
    }
}

void Interpreter::enqueue(std::unique_ptr<detail::Task> task) {
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        if (state_->phase != Phase::Running) {
            throw InterpreterStopped("pybridge: the interpreter has been stopped; no more calls run");
        }
        state_->queue.push_back(std::move(task));
    }
    state_->wake.notify_one();
}

void Interpreter::stop() {
    if (on_interpreter_thread()) {
        throw Error("pybridge: stop() called from the interpreter thread would wait for itself; "
                    "call it from a host thread");
    }
    std::lock_guard<std::mutex> serial(state_->stop_mutex);
    std::deque<std::unique_ptr<detail::Task>> rejected;
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        if (state_->phase == Phase::Running) {
            state_->phase = Phase::Stopping;
            state_->stop_requested.store(true, std::memory_order_relaxed);
            rejected.swap(state_->queue);
        }
    }
    state_->wake.notify_all();
    const auto why = stopped_before_running();
    for (auto &task : rejected) task->reject(why);
    rejected.clear();
    if (state_->thread.joinable()) state_->thread.join();
}

bool Interpreter::running() const noexcept {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->phase == Phase::Running;
}

const InterpreterInfo &Interpreter::info() const noexcept { return state_->info; }

bool Interpreter::on_interpreter_thread() noexcept { return t_on_interpreter_thread; }

}  // namespace pyb
