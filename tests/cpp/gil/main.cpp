#include <memory>

#include "gil_test_support.hpp"

namespace gil_test {
namespace {

std::unique_ptr<pyb::Interpreter> g_interp;
std::mutex g_sink_mutex;
std::vector<std::string> g_sink;

class InterpreterEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        pyb::InterpreterConfig config;
        config.sigint_interrupts_call = true;
        config.error_sink = [](std::exception_ptr e) {
            std::lock_guard<std::mutex> lock(g_sink_mutex);
            try {
                std::rethrow_exception(e);
            } catch (const std::exception &ex) {
                g_sink.push_back(ex.what());
            }
        };
        g_interp = std::make_unique<pyb::Interpreter>(std::move(config));
    }
    void TearDown() override {
        g_interp->stop();
        g_interp.reset();
    }
};

}  // namespace

pyb::Interpreter &interp() { return *g_interp; }

std::vector<std::string> sink_messages() {
    std::lock_guard<std::mutex> lock(g_sink_mutex);
    return g_sink;
}

}  // namespace gil_test

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new gil_test::InterpreterEnvironment);
    return RUN_ALL_TESTS();
}
