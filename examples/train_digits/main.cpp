// train_digits [--epochs N] [--checkpoint FILE]
//
// Trains a two-layer perceptron on scikit-learn's handwritten digits (8x8 images, bundled:
// no download) with the training loop driven from C++: the host owns the data, shuffles
// and batches it, and runs forward, loss, backward and the optimizer step through the
// bridge. Holds out 20% (fixed seed), prints the loss per epoch with a progress bar and the
// held-out accuracy, saves the model (safetensors), reloads it and checks that the reloaded
// model predicts the same.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <unistd.h>

#include "train.hpp"

int main(int argc, char **argv) {
    digits::Options options;
    std::string checkpoint = "digits_mlp.safetensors";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << "usage: train_digits [--epochs N] [--checkpoint FILE]\n"
                         "  --epochs N         training epochs (default 30)\n"
                         "  --checkpoint FILE  where the model is saved (safetensors; default ./digits_mlp.safetensors)\n";
            return 0;
        } else if (arg == "--epochs" && i + 1 < argc) {
            options.epochs = std::atoi(argv[++i]);
            if (options.epochs < 1) {
                std::cerr << "train_digits: error: --epochs needs a positive integer\n";
                return 2;
            }
        } else if (arg == "--checkpoint" && i + 1 < argc) {
            checkpoint = argv[++i];
        } else {
            std::cerr << "train_digits: error: unknown argument '" << arg << "' (see --help)\n";
            return 2;
        }
    }
    try {
        const auto start = std::chrono::steady_clock::now();
        pyb::Bridge py;
        digits::Dataset all, train, test;
        all = digits::load(py);
        digits::split(all, 0.2, options.seed, train, test);
        std::printf("digits: %lld training, %lld held-out samples, %lld features\n",
                    static_cast<long long>(train.size()), static_cast<long long>(test.size()),
                    static_cast<long long>(all.features));
        std::fflush(stdout);                              // before the progress bar on stderr
        options.progress = ::isatty(STDERR_FILENO) != 0;  // a bar only on a terminal; the losses print below
        const digits::Result r = digits::train(py, train, test, options, checkpoint);
        for (size_t e = 0; e < r.epoch_loss.size(); ++e) std::printf("epoch %zu: loss %.4f\n", e + 1, r.epoch_loss[e]);
        std::printf("held-out accuracy: %.2f%%\n", 100.0 * r.accuracy);
        const bool same = digits::predict_from_checkpoint(py, checkpoint, test) == r.predictions;
        std::printf("checkpoint %s reloaded: %s\n", checkpoint.c_str(),
                    same ? "identical predictions" : "DIFFERENT predictions");
        std::printf("wall time %.1f s\n",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        py.stop();
        return same ? 0 : 1;
    } catch (const pyb::PythonError &e) {
        std::cerr << "train_digits: error: " << e.type_name() << ": " << e.message() << "\n";
    } catch (const std::exception &e) {
        std::cerr << "train_digits: error: " << e.what() << "\n";
    }
    return 1;
}
