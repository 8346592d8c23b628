// classify_images [IMAGE...] [--weights FILE] [--top K]
//
// Classifies image files with torchvision's ResNet-18 running in the embedded Python. The
// host reads each file's bytes and hands them to Python, which decodes them and applies
// the torchvision transforms; the logits come back through DLPack without a copy, and the
// softmax and the top-K are computed here in C++. Without IMAGE arguments it classifies the
// sample photos scikit-image ships (astronaut, coffee, chelsea), saved as PNG/JPEG on first
// use. Without --weights the network is randomly initialised (seed 0): the output says so,
// and its predictions mean nothing.
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "classify.hpp"

namespace {

constexpr const char *kUsage =
    "usage: classify_images [IMAGE...] [--weights FILE] [--top K]\n"
    "  IMAGE           PNG/JPEG/... files (default: scikit-image's astronaut, coffee and chelsea photos)\n"
    "  --weights FILE  ResNet-18 state dict (.pth or .safetensors); default: random weights (seed 0)\n"
    "  --top K         classes shown per image (default 5)\n";

int fail(const std::string &message, int code = 1) {
    std::cerr << "classify_images: error: " << message << "\n";
    return code;
}

}  // namespace

int main(int argc, char **argv) {
    std::vector<std::string> paths;
    std::string weights;
    long top = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            return 0;
        } else if (arg == "--weights") {
            if (i + 1 >= argc) return fail("--weights needs a file", 2);
            weights = argv[++i];
        } else if (arg == "--top") {
            char *end = nullptr;
            top = i + 1 < argc ? std::strtol(argv[++i], &end, 10) : 0;
            if (!end || *end || top < 1 || top > 1000) return fail("--top needs an integer from 1 to 1000", 2);
        } else if (!arg.empty() && arg[0] == '-') {
            return fail("unknown option '" + arg + "' (see --help)", 2);
        } else {
            paths.push_back(arg);
        }
    }

    try {
        const auto start = std::chrono::steady_clock::now();
        pyb::Bridge py;
        if (paths.empty()) paths = classify::sample_images(py, classify::default_sample_dir());
        std::vector<std::string> images;
        for (const std::string &p : paths) images.push_back(classify::read_file(p));

        classify::Classifier classifier(py, weights);
        std::printf("ResNet-18, %s\n", classifier.weights_description().c_str());
        const pyb::Tensor logits = classifier.logits(images, paths);
        const float *rows = logits.data_as<float>();
        const auto classes = static_cast<std::size_t>(logits.shape()[1]);
        for (std::size_t i = 0; i < paths.size(); ++i) {
            std::printf("%s\n", paths[i].c_str());
            for (const classify::Prediction &p : classify::top_k(rows + i * classes, classes, static_cast<std::size_t>(top)))
                std::printf("  %6.2f%%  %s\n", 100.0 * p.probability, classifier.categories()[static_cast<std::size_t>(p.index)].c_str());
        }
        std::printf("%zu image(s) in %.1f s\n", paths.size(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        py.stop();
    } catch (const pyb::PythonError &e) {
        return fail(e.type_name() + ": " + e.message());
    } catch (const std::exception &e) {
        return fail(e.what());
    }
    return 0;
}
