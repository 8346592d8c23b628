#include <gtest/gtest.h>

#include <memory>

#include "shared_bridge.hpp"

namespace pyb_test {
namespace {

std::unique_ptr<pyb::Bridge> g_bridge;

// Started before the first test and stopped explicitly after the last one, never by a
// static destructor.
class BridgeEnvironment : public ::testing::Environment {
public:
    void SetUp() override { g_bridge = std::make_unique<pyb::Bridge>(); }
    void TearDown() override {
        g_bridge->stop();
        g_bridge.reset();
    }
};

}  // namespace

pyb::Bridge &bridge() { return *g_bridge; }

}  // namespace pyb_test

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new pyb_test::BridgeEnvironment);
    return RUN_ALL_TESTS();
}
