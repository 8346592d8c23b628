// pybridge/gil/config.hpp — how the embedded interpreter is started.
//
// Thread contract: a plain value; build it on any thread before Interpreter starts.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace pyb {

// What happens to CPython when the interpreter stops.
enum class Finalize {
    // Py_FinalizeEx() unless `torch` was imported. Finalizing with torch loaded crashes in
    // some torch releases (its static state outlives the interpreter), so then pybridge
    // only runs what finalization would run first: threading shutdown, atexit handlers,
    // and flushing sys.stdout/sys.stderr. The default never crashes at process exit.
    Auto,
    Always,  // always Py_FinalizeEx()
    Never,   // never finalize (same steps as Auto with torch loaded)
};

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

    // Route SIGINT to the running call only: pybridge installs a SIGINT handler that raises
    // KeyboardInterrupt in the call running at that moment (nothing happens when idle), and
    // restores the previous handler at stop(). Off by default.
    bool sigint_interrupts_call = false;

    // Receives the exception of a failed post() call, on the interpreter thread. Must not
    // throw or block on the interpreter. Empty: the message is printed to stderr.
    std::function<void(std::exception_ptr)> error_sink;

    Finalize finalize = Finalize::Auto;
};

}  // namespace pyb
