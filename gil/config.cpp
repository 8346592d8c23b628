#include "config.hpp"

#include <cstdlib>
#include <sstream>

#include "errors.hpp"

namespace pyb {
namespace {

const char *env(const char *name) {
    const char *v = std::getenv(name);
    return v && *v ? v : nullptr;
}

[[noreturn]] void refuse(const char *name, const std::string &value, const char *accepted) {
    throw Error(std::string("pybridge: ") + name + " must be " + accepted + ", got '" + value + "'");
}

bool flag(const char *name, const std::string &v) {
    if (v == "1" || v == "true" || v == "yes") return true;
    if (v == "0" || v == "false" || v == "no") return false;
    refuse(name, v, "1 or 0 (true/false, yes/no)");
}

}  // namespace

InterpreterConfig config_from_environment(InterpreterConfig c) {
    if (const char *v = env("PYBRIDGE_PYTHON")) c.python_executable = v;
    if (const char *v = env("PYBRIDGE_SYS_PATH")) {
        std::stringstream entries(v);
        for (std::string e; std::getline(entries, e, ':');)
            if (!e.empty()) c.extra_sys_path.push_back(e);
    }
    if (const char *v = env("PYBRIDGE_ISOLATED")) c.isolated = flag("PYBRIDGE_ISOLATED", v);
    if (const char *v = env("PYBRIDGE_ARGV")) {
        std::stringstream words(v);
        std::vector<std::string> argv;
        for (std::string w; words >> w;) argv.push_back(w);
        if (argv.empty()) refuse("PYBRIDGE_ARGV", v, "at least one word (sys.argv[0])");
        c.argv = std::move(argv);
    }
    if (const char *v = env("PYBRIDGE_SIGNALS")) {
        const std::string s = v;
        if (s == "host") {
            c.install_signal_handlers = c.sigint_interrupts_call = false;
        } else if (s == "python") {
            c.install_signal_handlers = true;
            c.sigint_interrupts_call = false;
        } else if (s == "call") {
            c.install_signal_handlers = false;
            c.sigint_interrupts_call = true;
        } else {
            refuse("PYBRIDGE_SIGNALS", s, "host, python or call");
        }
    }
    if (const char *v = env("PYBRIDGE_OUTPUT")) {
        const std::string s = v;
        if (s != "host" && s != "python") refuse("PYBRIDGE_OUTPUT", s, "host or python");
        c.route_python_output = s == "host";
    }
    if (const char *v = env("PYBRIDGE_FINALIZE")) {
        const std::string s = v;
        if (s == "auto") c.finalize = Finalize::Auto;
        else if (s == "always") c.finalize = Finalize::Always;
        else if (s == "never") c.finalize = Finalize::Never;
        else refuse("PYBRIDGE_FINALIZE", s, "auto, always or never");
    }
    if (const char *v = env("PYBRIDGE_HOST_WAIT")) {
        const std::string s = v;
        if (s == "auto") c.host_wait = HostWait::Auto;
        else if (s == "spin") c.host_wait = HostWait::Spin;
        else if (s == "block") c.host_wait = HostWait::Block;
        else refuse("PYBRIDGE_HOST_WAIT", s, "auto, spin or block");
    }
    return c;
}

}  // namespace pyb
