// The isolated interpreter ignores every PYTHON* variable CPython reads at start (and
// __PYVENV_LAUNCHER__): a hostile torch.py planted through any of them is not imported; the
// real torch of the configured venv is. A host that turns isolation off opts in.
#include <bridge/pybridge.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/stat.h>

#include "child.hpp"

namespace {

const std::string kEvil = "/tmp/pybridge_evil_" + std::to_string(::getpid());

void write(const std::string &path, const std::string &text) { std::ofstream(path) << text; }

// A tree that would win if a variable were honoured: a torch.py and a sitecustomize.py
// that mark the process, in every place a variable could point, and a venv whose
// site-packages holds them (for PYTHONEXECUTABLE / __PYVENV_LAUNCHER__).
void plant() {
    const std::string site = kEvil + "/lib/python3." + std::to_string(PY_MINOR_VERSION) + "/site-packages";
    for (const std::string &dir : {kEvil, kEvil + "/bin", kEvil + "/lib", kEvil + "/lib/python3." + std::to_string(PY_MINOR_VERSION), site})
        ::mkdir(dir.c_str(), 0755);
    const std::string payload = "import os\nos.environ['PYBRIDGE_EVIL'] = __file__\n";
    for (const std::string &dir : {kEvil, site}) {
        write(dir + "/torch.py", payload);
        write(dir + "/sitecustomize.py", payload);
        write(dir + "/usercustomize.py", payload);
    }
    write(kEvil + "/startup.py", payload);
    // The linked Python's bin/ (home of the test venv), so the planted venv is well-formed.
    std::ifstream cfg(std::string(PYBRIDGE_TEST_VENV) + "/pyvenv.cfg");
    std::string line, home;
    while (std::getline(cfg, line))
        if (line.rfind("home", 0) == 0) home = line.substr(line.find('=') + 1);
    while (!home.empty() && home[0] == ' ') home.erase(0, 1);
    write(kEvil + "/pyvenv.cfg", "home = " + home + "\ninclude-system-site-packages = false\n");
    ::symlink((home + "/python3." + std::to_string(PY_MINOR_VERSION)).c_str(), (kEvil + "/bin/python").c_str());
}

std::string real_torch_loads_with(const char *name, const std::string &value) {
    plant();
    ::setenv(name, value.c_str(), 1);
    pyb::Bridge py;  // isolated: the default
    py.exec("import os, sys, torch\n");
    const std::string evil = py.eval("os.environ.get('PYBRIDGE_EVIL', '')").as_str();
    const std::string torch_file = py.eval("torch.__file__").as_str();
    const std::string executable = py.eval("sys.executable").as_str();
    if (!evil.empty()) return std::string(name) + " made Python run " + evil;
    if (torch_file.rfind(PYBRIDGE_TEST_VENV, 0) != 0) return std::string(name) + ": torch came from " + torch_file;
    if (executable.rfind(PYBRIDGE_TEST_VENV, 0) != 0) return std::string(name) + ": sys.executable is " + executable;
    if (std::string(std::getenv(name) ? std::getenv(name) : "") != value) return std::string(name) + " was not restored";
    return "";
}

std::string opted_in_variables_are_honoured() {
    plant();
    ::setenv("PYTHONPATH", kEvil.c_str(), 1);
    pyb::InterpreterConfig config = pyb::config_from_environment();
    config.isolated = false;
    pyb::Bridge py(config);
    if (!py.eval(("'" + kEvil + "' in __import__('sys').path").c_str()).as_bool()) return "PYTHONPATH was not honoured";
    return "";
}

}  // namespace

TEST(Environment, PythonPathIsIgnored) { PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONPATH", kEvil); }); }
TEST(Environment, PythonHomeIsIgnored) { PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONHOME", kEvil); }); }
TEST(Environment, PythonExecutableIsIgnored) {
    PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONEXECUTABLE", kEvil + "/bin/python"); });
}
TEST(Environment, PyvenvLauncherIsIgnored) {
    PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("__PYVENV_LAUNCHER__", kEvil + "/bin/python"); });
}
TEST(Environment, PythonUserBaseIsIgnored) { PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONUSERBASE", kEvil); }); }
TEST(Environment, PythonStartupIsIgnored) {
    PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONSTARTUP", kEvil + "/startup.py"); });
}
TEST(Environment, PythonPlatlibdirIsIgnored) { PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONPLATLIBDIR", "evil"); }); }
TEST(Environment, PythonSafePathIsIgnored) { PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONSAFEPATH", ""); }); }
TEST(Environment, VirtualEnvIsIgnored) { PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("VIRTUAL_ENV", kEvil); }); }
TEST(Environment, PythonNoUserSiteIsIgnored) { PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONNOUSERSITE", ""); }); }
TEST(Environment, PythonInspectIsIgnored) { PYB_IN_OWN_PROCESS([] { return real_torch_loads_with("PYTHONINSPECT", "1"); }); }
TEST(Environment, HostOptInStaysOptIn) { PYB_IN_OWN_PROCESS(opted_in_variables_are_honoured); }
