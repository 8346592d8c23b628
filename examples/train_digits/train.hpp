// examples/train_digits: training driven from the host, the parts its test reuses.
//
// The host owns the data (scikit-learn's handwritten digits, copied into host memory),
// shuffles and batches it, and drives every step through the bridge: forward, loss,
// backward, optimizer step, evaluation; the model, its gradients and the optimizer state
// stay in Python (py/pybridge/digits.py builds them). Batches cross zero-copy via DLPack.
#pragma once

#include <bridge/pybridge.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace digits {

// Host-owned samples: x float32 (n, features) row-major, y int64 labels.
struct Dataset {
    std::vector<float> x;
    std::vector<std::int64_t> y;
    std::int64_t features = 0;
    std::int64_t size() const { return static_cast<std::int64_t>(y.size()); }
};

// The 1,797 digits (pixels scaled to [0, 1]), copied into host memory.
Dataset load(pyb::Bridge &py);

// A shuffled split (std::mt19937 with `seed`): `test_fraction` of the samples held out.
void split(const Dataset &all, double test_fraction, std::uint32_t seed, Dataset &train, Dataset &test);

struct Options {
    int epochs = 30;
    int batch = 64;
    double lr = 1e-3;
    std::uint32_t seed = 0;  // weights (torch.manual_seed) and batch order
    bool progress = true;    // a progress bar and the loss per epoch on stderr
};

struct Result {
    std::vector<double> epoch_loss;          // mean training loss per epoch
    std::vector<std::int64_t> predictions;   // on the test set, after training
    double accuracy = 0;                     // of `predictions`
};

// Trains a fresh model, evaluates it on `test`, saves it to `checkpoint` (safetensors).
Result train(pyb::Bridge &py, const Dataset &train_set, const Dataset &test, const Options &options,
             const std::string &checkpoint);

// Predictions on `test` of the model saved at `checkpoint`.
std::vector<std::int64_t> predict_from_checkpoint(pyb::Bridge &py, const std::string &checkpoint, const Dataset &test);

}  // namespace digits
