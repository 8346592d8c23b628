// pybridge doctor — what the embedded Python is, and whether the things that break in
// embedded interpreters work here. Prints the interpreter's version and paths, the virtual
// environment, torch/torchvision, CUDA devices, DLPack versions; then runs checks, each
// marked ok or FAIL with a one-line fix. Exit status: 0 all checks passed, 1 a check
// failed (or the interpreter would not start), 2 usage.
#include <bridge/pybridge.hpp>

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

namespace {

constexpr const char *kUsage =
    "usage: pybridge doctor\n"
    "  Prints the embedded Python's version, paths and packages (torch, torchvision, CUDA, DLPack)\n"
    "  and checks: import torch, a DLPack round trip, inductor's compile workers, a spawned process.\n"
    "  The Python used: $PYBRIDGE_PYTHON, else the environment pybridge was built with.\n";

void field(const char *name, const std::string &value) { std::printf("  %-22s %s\n", name, value.c_str()); }

// Runs `check`; prints ok with its detail, or FAIL with the error and `fix`.
bool run_check(const char *name, const std::function<std::string()> &check, const std::string &fix) {
    std::fflush(stdout);
    try {
        const std::string detail = check();
        std::printf("  [ok]   %s%s%s\n", name, detail.empty() ? "" : ": ", detail.c_str());
        return true;
    } catch (const pyb::PythonError &e) {
        std::printf("  [FAIL] %s: %s: %s\n         fix: %s\n", name, e.type_name().c_str(), e.message().c_str(), fix.c_str());
    } catch (const std::exception &e) {
        std::printf("  [FAIL] %s: %s\n         fix: %s\n", name, e.what(), fix.c_str());
    }
    return false;
}

std::string libpython_path() {
    Dl_info info{};
    return ::dladdr(reinterpret_cast<void *>(&Py_InitializeFromConfig), &info) && info.dli_fname ? info.dli_fname
                                                                                                  : "(unknown)";
}

int doctor() {
    const pyb::InterpreterConfig config = pyb::config_from_environment();
    std::printf("pybridge %s (DLPack header %d.%d)\n", "0.1.0", DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION);
    field("libpython", libpython_path());
    std::unique_ptr<pyb::Bridge> started;
    if (!run_check("start the embedded interpreter", [&] {
            started = std::make_unique<pyb::Bridge>(config);
            return std::string();
        }, "run `make setup` (creates the environment), or set PYBRIDGE_PYTHON to the bin/python of a venv made "
           "from the Python 3.11 pybridge links (a shared libpython)")) {
        return 1;
    }
    pyb::Bridge &py = *started;
    py.exec(
        "import os, site, sys\n"
        "def _version(name):\n"
        "    try:\n"
        "        return str(__import__(name).__version__)\n"
        "    except Exception as e:\n"
        "        return f'not importable ({type(e).__name__}: {e})'\n");
    std::printf("Python\n");
    field("version", py.eval("sys.version.split()[0]").as_str());
    field("executable", py.eval("sys.executable").as_str());
    field("prefix", py.eval("sys.prefix").as_str());
    field("base prefix", py.eval("sys.base_prefix").as_str());
    field("virtual environment", py.eval("sys.prefix if sys.prefix != sys.base_prefix else '(none)'").as_str());
    field("site-packages", py.eval("', '.join(site.getsitepackages())").as_str());
    field("pybridge package", py.eval("os.path.dirname(__import__('pybridge').__file__)").as_str());
    std::printf("Packages\n");
    field("torch", py.eval("_version('torch')").as_str());
    field("torchvision", py.eval("_version('torchvision')").as_str());
    field("transformers", py.eval("_version('transformers')").as_str());
    field("numpy", py.eval("_version('numpy')").as_str());

    const bool torch_importable = py.eval("_version('torch')[0].isdigit()").as_bool();
    if (torch_importable) {
        py.exec("import torch\n");
        std::printf("CUDA and DLPack\n");
        const bool cuda = py.eval("torch.cuda.is_available()").as_bool();
        field("CUDA", cuda ? "available (torch built for CUDA " + py.eval("str(torch.version.cuda)").as_str() + ")"
                      : py.eval("torch.version.cuda").is_none()
                          ? std::string("CPU-only torch build")
                          : "no device visible (torch built for CUDA " + py.eval("str(torch.version.cuda)").as_str() + ")");
        if (cuda) {
            const pyb::Value names = py.eval("[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]");
            for (size_t i = 0; i < names.list_size(); ++i)
                field(("device " + std::to_string(i)).c_str(), names.list_at(i).as_str());
        }
        const std::string api = py.interpreter().call([](pyb::Python p) -> std::string {
            PyObject *tensor_type = PyObject_GetAttrString(PyImport_AddModule("torch"), "Tensor");
            const DLPackExchangeAPI *a =
                tensor_type ? pyb::dlpack::exchange_api_of(p, reinterpret_cast<PyTypeObject *>(tensor_type)) : nullptr;
            Py_XDECREF(tensor_type);
            PyErr_Clear();
            if (!a) return "absent (pybridge uses __dlpack__ capsules)";
            return "present (torch's table: DLPack " + std::to_string(a->header.version.major) + "." +
                   std::to_string(a->header.version.minor) + ")";
        });
        field("C exchange API", api);
    }

    std::printf("Checks\n");
    int failed = 0;
    const std::string venv_python = py.eval("sys.executable").as_str();
    const std::string reinstall = "install the pinned packages: " + venv_python + " -m pip install torch==2.14.1 torchvision==0.29.1 "
                                  "(or run `make setup`)";
    const bool have_torch = run_check("import torch", [&] {
        py.exec("import torch\n");
        return "torch " + py.eval("str(torch.__version__)").as_str();
    }, reinstall);
    failed += !have_torch;
    if (have_torch) {
        failed += !run_check("DLPack round trip", [&] {
            std::vector<float> host = {1.5f, -2.0f, 3.25f};
            const pyb::Tensor t = pyb::Tensor::from_buffer(host.data(), {3}, pyb::dtype_of<float>());
            const pyb::ObjectRef f = py.eval_ref("lambda t: (t.data_ptr(), t * 2)");
            const pyb::Value r = py.call(f, {t});
            const pyb::Tensor doubled = r.as_tuple().items[1].as_tensor();
            if (r.as_tuple().items[0].as_int() != static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(host.data())))
                throw pyb::Error("torch did not view the host buffer (a copy was made)");
            if (doubled.data_as<float>()[2] != 6.5f) throw pyb::Error("wrong values came back");
            return std::string("host -> torch -> host, zero-copy");
        }, "rebuild pybridge against this environment (cmake -DPYBRIDGE_PYTHON=" + venv_python + ")");
        failed += !run_check("compile workers start", [&] {
            py.exec(
                "import torch._inductor.config\n"
                "from torch._inductor.async_compile import AsyncCompile\n"
                "torch._inductor.config.compile_threads = max(2, torch._inductor.config.compile_threads or 2)\n"
                "AsyncCompile.warm_pool()\n"
                "_ready = AsyncCompile.process_pool().submit(AsyncCompile._get_ready).result(timeout=300)\n");
            return "inductor's worker pool answered '" + py.eval("_ready").as_str() + "'";
        }, "sys.executable must be the environment's python (" + venv_python +
               "); set PYBRIDGE_PYTHON to it, or set TORCHINDUCTOR_COMPILE_THREADS=1 to compile in-process");
    }
    failed += !run_check("spawned process", [&] {
        py.exec(
            "import multiprocessing\n"
            "with multiprocessing.get_context('spawn').Pool(1) as _pool:\n"
            "    _spawned = _pool.apply(pow, (2, 10))\n");
        if (py.eval("_spawned").as_int() != 1024) throw pyb::Error("the child returned a wrong value");
        return std::string("multiprocessing 'spawn' child returned 2**10");
    }, "sys.executable must be the environment's python (" + venv_python + "); set PYBRIDGE_PYTHON to it");
    py.stop();
    if (failed) {
        std::printf("%d check(s) failed\n", failed);
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc == 2 && std::strcmp(argv[1], "doctor") == 0) return doctor();
    if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    std::fputs(kUsage, stderr);
    return 2;
}
