// examples/classify_images: the parts of the example the tests reuse.
//
// The host reads image files (raw bytes), Python decodes and transforms them and runs
// torchvision's ResNet-18 (py/pybridge/vision.py), and the logits come back through DLPack
// without a copy; the softmax and the top-k are computed here.
#pragma once

#include <bridge/pybridge.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace classify {

// The whole file as bytes. Throws std::runtime_error naming the path and the reason.
std::string read_file(const std::string &path);

struct Prediction {
    int index;          // class index, 0..n-1
    double probability;  // softmax of the row
};

// The k most probable classes of one row of `n` logits, most probable first (ties: lower
// index first). Softmax computed in double, max-subtracted (no overflow for large logits).
std::vector<Prediction> top_k(const float *logits, std::size_t n, std::size_t k);

// scikit-image's sample photos (astronaut PNG, coffee JPEG, chelsea PNG), written into
// `directory` by Python once; their paths.
std::vector<std::string> sample_images(pyb::Bridge &py, const std::string &directory);

// The default folder for them: $PYBRIDGE_CACHE_DIR/sample_images, else
// ~/.cache/pybridge/sample_images.
std::string default_sample_dir();

class Classifier {
public:
    // `weights`: a .pth / .safetensors state dict; empty: a seeded random initialisation.
    Classifier(pyb::Bridge &py, const std::string &weights = "", int seed = 0);

    // Where the weights came from, said plainly (random weights are flagged).
    const std::string &weights_description() const { return description_; }
    // The 1,000 ImageNet class names, in logit order.
    const std::vector<std::string> &categories() const { return categories_; }

    // float32 logits (images.size(), 1000), a zero-copy view of torch's result. `images`
    // are encoded files (PNG, JPEG, ...); `names` (optional, e.g. their paths) name the one
    // that cannot be decoded in the pyb::PythonError (ValueError) thrown for it.
    pyb::Tensor logits(const std::vector<std::string> &images, const std::vector<std::string> &names = {});

private:
    pyb::Bridge &py_;
    pyb::ObjectRef vision_, model_;
    std::string description_;
    std::vector<std::string> categories_;
};

}  // namespace classify
