// pybridge/gil/config.hpp — how the embedded interpreter is started.
//
// Thread contract: a plain value; build it on any thread before Interpreter starts.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pyb {

// What happens to CPython when the interpreter stops.
// InterpreterConfig::host_wait.
enum class HostWait { Auto, Spin, Block };

enum class Finalize {
    // Py_FinalizeEx() unless `torch` was imported. Finalizing with torch loaded crashes in
    // some torch releases (its static state outlives the interpreter), so then pybridge
    // only runs what finalization would run first: threading shutdown, atexit handlers,
    // and flushing sys.stdout/sys.stderr. The default never crashes at process exit.
    Auto,
    Always,  // always Py_FinalizeEx()
    Never,   // never finalize (same steps as Auto with torch loaded)
};

// Where one piece of Python output came from (see InterpreterConfig::output_sink).
enum class OutputSource {
    Stdout,   // sys.stdout.write (print)
    Stderr,   // sys.stderr.write (tracebacks printed by Python, tqdm's progress bar)
    Logging,  // a `logging` record (level: its levelno; name: the logger's name)
    Warnings, // a `warnings` message (level 30; name: the category, e.g. DeprecationWarning)
};

struct OutputRecord {
    OutputSource source;
    int level;              // logging's numbers: 20 (INFO) for stdout, 40 (ERROR) for stderr
    std::string_view name;  // logger or warning category; empty for stdout/stderr
    std::string_view text;  // UTF-8; stdout/stderr: a line with its '\n', a "\r..." redraw
                            // (progress bars), or what a flush found
};

// Receives Python's output (output_sink). Called with the GIL held on whichever thread
// wrote (the interpreter thread, or a thread Python started): it must be thread-safe, quick,
// must not throw (an exception is printed to stderr and dropped) and must not call pybridge
// (the interpreter thread may be waiting for the GIL it holds).
using OutputSink = std::function<void(const OutputRecord &)>;

struct InterpreterConfig {
    // Python executable of the virtual environment to use, e.g. "/path/venv/bin/python".
    // Its pyvenv.cfg decides sys.prefix, so the venv's site-packages are on sys.path and
    // sys.executable is a real Python (subprocess-based features start Python, not the host).
    // Empty: $PYBRIDGE_PYTHON if set, else the environment pybridge was built with.
    std::string python_executable;

    // Isolated mode (the default): PYTHON* environment variables are ignored, the current
    // directory and the user site directory are not on sys.path.
    bool isolated = true;

    // Entries prepended to sys.path, in order. pybridge's own Python package directory is
    // added after them unless add_pybridge_package_dir is false.
    std::vector<std::string> extra_sys_path;
    bool add_pybridge_package_dir = true;

    // sys.argv. Must not be empty; CPython sets sys.argv[0] from the first entry.
    std::vector<std::string> argv{"pybridge"};

    // Let Python install its own signal handlers (SIGINT -> KeyboardInterrupt). Off by
    // default: the host keeps its handlers.
    bool install_signal_handlers = false;

    // Ignore SIGPIPE, as CPython does when it installs its handlers, if the host left it at
    // its default: a Python write to a closed pipe then raises BrokenPipeError instead of
    // killing the process (the host's own writes then fail with EPIPE too). Child processes
    // started by subprocess get the default back.
    bool ignore_sigpipe = true;

    // Route SIGINT to the running call only: pybridge installs a SIGINT handler that raises
    // KeyboardInterrupt in the call running at that moment (nothing happens when idle), and
    // restores the previous handler at stop(). Off by default.
    bool sigint_interrupts_call = false;

    // Receives the exception of a failed post() call, on the interpreter thread. Must not
    // throw or block on the interpreter. Empty: the message is printed to stderr.
    std::function<void(std::exception_ptr)> error_sink;

    Finalize finalize = Finalize::Auto;

    // How a host thread waits for a call it handed over (Interpreter::call(), Future::get()
    // and wait(); not the timed waits), after CUDA's device schedule flags:
    //   Auto  (the default): spin a few microseconds, adapting to how soon results come,
    //         then sleep on a futex;
    //   Spin: never sleep — for hosts with a core to spare. A long call's result then reaches
    //         the host in about one cache-line transfer instead of a thread wake-up (measured
    //         here on a 2-vCPU VM: 2 us instead of 26-34 us after a 0.6 ms attention call), but
    //         the waiting thread burns its core: calls whose own worker threads (torch's
    //         OpenMP pool) want every core get slower;
    //   Block: sleep at once — for hosts with more busy threads than cores.
    // At most one host thread per core spins at a time (Auto and Spin); the others sleep.
    // Process-wide, set when the interpreter starts.
    HostWait host_wait = HostWait::Auto;

    // Python's output (py/pybridge/output.py). With route_python_output (the default),
    // sys.stdout and sys.stderr are replaced at start by streams that write into the C
    // runtime's `stdout` / `stderr` (fwrite): Python's output and the host's printf share one
    // buffer, so they appear in the order they were written; isatty()/fileno() are the real
    // descriptors' (tqdm draws its bar on a terminal). If output_sink is set, stdout/stderr
    // writes, `logging` records (a handler on the root logger; levels are not changed) and
    // `warnings` go to the sink instead. route_python_output = false leaves CPython's own
    // streams (and ignores output_sink). Needs pybridge's Python package on sys.path.
    bool route_python_output = true;
    OutputSink output_sink;
};

// `base` with the PYBRIDGE_* environment variables applied (unset ones change nothing):
//   PYBRIDGE_PYTHON     python_executable (a venv's bin/python, or a Python installation's)
//   PYBRIDGE_SYS_PATH   entries appended to extra_sys_path, ':'-separated
//   PYBRIDGE_ISOLATED   isolated: 1/0 (also true/false, yes/no)
//   PYBRIDGE_ARGV       sys.argv, whitespace-separated words
//   PYBRIDGE_SIGNALS    host (no Python handlers) | python (install_signal_handlers) |
//                       call (sigint_interrupts_call)
//   PYBRIDGE_OUTPUT     host (route_python_output) | python (CPython's own streams)
//   PYBRIDGE_FINALIZE   auto | always | never
//   PYBRIDGE_HOST_WAIT  auto | spin | block
// The output sink and error sink are callbacks: code only. Throws Error naming the
// variable and the accepted values for a value it cannot use. Any thread (reads the
// environment; do not setenv concurrently). Bridge's default constructor uses it.
InterpreterConfig config_from_environment(InterpreterConfig base = {});

}  // namespace pyb
