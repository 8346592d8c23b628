// Subprocess-based features from an embedded interpreter. In an embedded CPython the host
// binary would be sys.executable by default, so multiprocessing, DataLoader workers and
// inductor's compile workers would start the host instead of Python. pybridge starts CPython
// with the environment's python as its program, so they start that Python.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "../shared_bridge.hpp"

namespace {
pyb::Bridge &py() { return pyb_test::bridge(); }
}  // namespace

TEST(Processes, SysExecutableIsTheEnvironmentsPythonNotTheHost) {
    py().exec("import os, sys, subprocess, multiprocessing.spawn\n");
    const std::string exe = py().eval("sys.executable").as_str();
    EXPECT_EQ(std::filesystem::weakly_canonical(exe), std::filesystem::weakly_canonical(PYBRIDGE_TEST_PYTHON));
    EXPECT_NE(std::filesystem::weakly_canonical(exe), std::filesystem::weakly_canonical("/proc/self/exe"));
    EXPECT_EQ(py().eval("os.fsdecode(multiprocessing.spawn.get_executable())").as_str(), exe);
    // A child started with it is the same environment: same torch.
    EXPECT_EQ(py().eval("subprocess.run([sys.executable, '-c', 'import torch; print(torch.__version__)'], "
                        "capture_output=True, text=True, check=True).stdout.strip()")
                  .as_str(),
              py().eval("str(__import__('torch').__version__)").as_str());
}

TEST(Processes, SpawnedAndForkedProcessesReturnValues) {
    py().exec(
        "import multiprocessing\n"
        "with multiprocessing.get_context('spawn').Pool(1) as pool:\n"
        "    _spawned = pool.apply(pow, (2, 10))\n"
        "with multiprocessing.get_context('fork').Pool(1) as pool:\n"
        "    _forked = pool.apply(pow, (3, 4))\n");
    EXPECT_EQ(py().eval("_spawned").as_int(), 1024);
    EXPECT_EQ(py().eval("_forked").as_int(), 81);
}

TEST(Processes, DataLoaderWorkersYieldTheSameBatchesAsTheMainProcess) {
    py().exec(
        "import torch\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "_data = TensorDataset(torch.arange(40.0).reshape(20, 2), torch.arange(20))\n"
        "def _batches(**kw):\n"
        "    return [(x.tolist(), y.tolist()) for x, y in DataLoader(_data, batch_size=3, **kw)]\n"
        "_inline = _batches(num_workers=0)\n"
        "_forked = _batches(num_workers=2, multiprocessing_context='fork')\n"
        "_spawned = _batches(num_workers=2, multiprocessing_context='spawn')\n");
    EXPECT_EQ(py().eval("len(_inline)").as_int(), 7);
    EXPECT_EQ(py().eval("_inline[6]"), pyb::tuple({pyb::list({pyb::list({36.0, 37.0}), pyb::list({38.0, 39.0})}),
                                                   pyb::list({18, 19})}));
    EXPECT_TRUE(py().eval("_forked == _inline").as_bool());
    EXPECT_TRUE(py().eval("_spawned == _inline").as_bool());
}
