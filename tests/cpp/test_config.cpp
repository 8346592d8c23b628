// config_from_environment(): the PYBRIDGE_* variables over a base config (no interpreter).
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "shared_bridge.hpp"

using pyb_test::error_of;

namespace {

// Sets (a null value: unsets) environment variables for one scope, restoring what was there.
class ScopedEnv {
public:
    ScopedEnv(std::initializer_list<std::pair<const char *, const char *>> vars) {
        for (const auto &[name, value] : vars) {
            const char *old = std::getenv(name);
            saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
            if (value) ::setenv(name, value, 1);
            else ::unsetenv(name);
        }
    }
    ~ScopedEnv() {
        for (const auto &[name, old] : saved_) {
            if (old) ::setenv(name.c_str(), old->c_str(), 1);
            else ::unsetenv(name.c_str());
        }
    }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace

TEST(ConfigFromEnvironment, EachVariableSetsItsField) {
    pyb::InterpreterConfig base;
    base.extra_sys_path = {"/from/code"};
    ScopedEnv env({{"PYBRIDGE_PYTHON", "/opt/venv/bin/python"},
                   {"PYBRIDGE_SYS_PATH", "/a:/b::/c"},
                   {"PYBRIDGE_ISOLATED", "no"},
                   {"PYBRIDGE_ARGV", "  tool --flag  x "},
                   {"PYBRIDGE_SIGNALS", "call"},
                   {"PYBRIDGE_OUTPUT", "python"},
                   {"PYBRIDGE_FINALIZE", "never"},
                   {"PYBRIDGE_HOST_WAIT", "spin"}});
    const pyb::InterpreterConfig c = pyb::config_from_environment(base);
    EXPECT_EQ(c.python_executable, "/opt/venv/bin/python");
    EXPECT_EQ(c.extra_sys_path, (std::vector<std::string>{"/from/code", "/a", "/b", "/c"}));
    EXPECT_FALSE(c.isolated);
    EXPECT_EQ(c.argv, (std::vector<std::string>{"tool", "--flag", "x"}));
    EXPECT_FALSE(c.install_signal_handlers);
    EXPECT_TRUE(c.sigint_interrupts_call);
    EXPECT_FALSE(c.route_python_output);
    EXPECT_EQ(c.finalize, pyb::Finalize::Never);
    EXPECT_EQ(c.host_wait, pyb::HostWait::Spin);
}

TEST(ConfigFromEnvironment, UnsetVariablesKeepTheBase) {
    pyb::InterpreterConfig base;
    base.argv = {"host"};
    base.isolated = false;
    // Unset here whatever the caller's environment holds (PYBRIDGE_HOST_WAIT=spin, say).
    ScopedEnv env({{"PYBRIDGE_SIGNALS", "python"},
                   {"PYBRIDGE_ARGV", nullptr},
                   {"PYBRIDGE_ISOLATED", nullptr},
                   {"PYBRIDGE_OUTPUT", nullptr},
                   {"PYBRIDGE_FINALIZE", nullptr},
                   {"PYBRIDGE_HOST_WAIT", nullptr}});
    const pyb::InterpreterConfig c = pyb::config_from_environment(base);
    EXPECT_EQ(c.argv, (std::vector<std::string>{"host"}));
    EXPECT_FALSE(c.isolated);
    EXPECT_TRUE(c.install_signal_handlers);
    EXPECT_TRUE(c.route_python_output);
    EXPECT_EQ(c.finalize, pyb::Finalize::Auto);
    EXPECT_EQ(c.host_wait, pyb::HostWait::Auto);
}

TEST(ConfigFromEnvironment, BadValuesNameTheVariableAndTheChoices) {
    {
        ScopedEnv env({{"PYBRIDGE_ISOLATED", "maybe"}});
        EXPECT_EQ(error_of([] { pyb::config_from_environment(); }),
                  "pybridge: PYBRIDGE_ISOLATED must be 1 or 0 (true/false, yes/no), got 'maybe'");
    }
    {
        ScopedEnv env({{"PYBRIDGE_SIGNALS", "all"}});
        EXPECT_EQ(error_of([] { pyb::config_from_environment(); }),
                  "pybridge: PYBRIDGE_SIGNALS must be host, python or call, got 'all'");
    }
    {
        ScopedEnv env({{"PYBRIDGE_FINALIZE", "sometimes"}});
        EXPECT_EQ(error_of([] { pyb::config_from_environment(); }),
                  "pybridge: PYBRIDGE_FINALIZE must be auto, always or never, got 'sometimes'");
    }
    {
        ScopedEnv env({{"PYBRIDGE_HOST_WAIT", "yield"}});
        EXPECT_EQ(error_of([] { pyb::config_from_environment(); }),
                  "pybridge: PYBRIDGE_HOST_WAIT must be auto, spin or block, got 'yield'");
    }
    {
        ScopedEnv env({{"PYBRIDGE_ARGV", "   "}});
        EXPECT_EQ(error_of([] { pyb::config_from_environment(); }),
                  "pybridge: PYBRIDGE_ARGV must be at least one word (sys.argv[0]), got '   '");
    }
}
