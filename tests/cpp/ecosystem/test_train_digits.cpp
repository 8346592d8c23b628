// examples/train_digits: the host-driven training run reaches the accuracy, and the saved
// checkpoint reloads to identical predictions.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "../shared_bridge.hpp"
#include "train_digits/train.hpp"

TEST(TrainDigits, HostDrivenTrainingReaches95PercentAndItsCheckpointReloads) {
    pyb::Bridge &py = pyb_test::bridge();
    const digits::Dataset all = digits::load(py);
    ASSERT_EQ(all.size(), 1797);
    ASSERT_EQ(all.features, 64);
    digits::Dataset train, test;
    digits::split(all, 0.2, 0, train, test);
    EXPECT_EQ(test.size(), 359);
    EXPECT_EQ(train.size(), 1438);
    EXPECT_EQ(std::set<std::int64_t>(test.y.begin(), test.y.end()).size(), 10u);  // every digit held out

    digits::Options options;
    options.progress = false;
    const std::string checkpoint =
        (std::filesystem::temp_directory_path() / ("digits_" + std::to_string(::getpid()) + ".safetensors")).string();
    const digits::Result r = digits::train(py, train, test, options, checkpoint);
    ASSERT_EQ(r.epoch_loss.size(), 30u);
    EXPECT_LT(r.epoch_loss.back(), r.epoch_loss.front() / 4);  // it learned
    EXPECT_GE(r.accuracy, 0.95);
    EXPECT_EQ(digits::predict_from_checkpoint(py, checkpoint, test), r.predictions);
    std::filesystem::remove(checkpoint);
}
