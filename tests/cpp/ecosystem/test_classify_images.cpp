// examples/classify_images: the host pipeline's logits against the same pipeline in a plain
// Python process, weight files in both formats, top-k in C++, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "../shared_bridge.hpp"
#include "classify_images/classify.hpp"

using pyb_test::error_of;

namespace {

pyb::Bridge &py() { return pyb_test::bridge(); }

std::string temp_dir() {
    const auto dir = std::filesystem::temp_directory_path() / ("pybridge_classify_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir.string();
}

// Largest |a - b| between host logits and the float32 array in the .npy file `path`.
double max_diff_to_npy(const pyb::Tensor &logits, const std::string &path) {
    return py().call(pyb_test::py_fn("lambda t, p: float((t - __import__('torch').from_numpy("
                                     "__import__('numpy').load(p))).abs().max())"),
                     {logits, path})
        .as_float();
}

}  // namespace

TEST(ClassifyImages, TopKIsSoftmaxOrderedWithTiesByIndex) {
    const float logits[] = {1.0f, 3.0f, 3.0f, -2.0f, 0.5f};
    const auto top = classify::top_k(logits, 5, 3);
    ASSERT_EQ(top.size(), 3u);
    EXPECT_EQ(top[0].index, 1);
    EXPECT_EQ(top[1].index, 2);  // tie with 1: lower index first
    EXPECT_EQ(top[2].index, 0);
    const double total = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(-2.0) + std::exp(0.5);
    EXPECT_NEAR(top[0].probability, std::exp(3.0) / total, 1e-12);
    EXPECT_NEAR(top[2].probability, std::exp(1.0) / total, 1e-12);
    const float huge[] = {1000.0f, 999.0f};  // max-subtracted: no overflow
    EXPECT_NEAR(classify::top_k(huge, 2, 1)[0].probability, 1 / (1 + std::exp(-1.0)), 1e-12);
    EXPECT_EQ(classify::top_k(logits, 5, 99).size(), 5u);
}

TEST(ClassifyImages, HostLogitsEqualThePipelineInPlainPython) {
    const std::vector<std::string> paths = classify::sample_images(py(), temp_dir() + "/samples");
    ASSERT_EQ(paths.size(), 3u);
    std::vector<std::string> images;
    for (const auto &p : paths) images.push_back(classify::read_file(p));
    EXPECT_EQ(images[1].substr(0, 3), "\xff\xd8\xff");  // coffee: a JPEG
    EXPECT_EQ(images[0].substr(1, 3), "PNG");

    classify::Classifier classifier(py());
    EXPECT_EQ(classifier.weights_description(), "random initialisation (seed 0): NOT trained weights");
    ASSERT_EQ(classifier.categories().size(), 1000u);
    EXPECT_EQ(classifier.categories()[281], "tabby");
    const pyb::Tensor logits = classifier.logits(images);
    ASSERT_EQ(logits.shape(), (std::vector<std::int64_t>{3, 1000}));

    const std::string npy = temp_dir() + "/plain_logits.npy";
    py().call(pyb_test::py_fn(
                  "lambda out, paths: __import__('subprocess').run([__import__('sys').executable, '-c', '''\n"
                  "import sys, numpy\n"
                  "from pybridge import vision\n"
                  "model, _ = vision.load_resnet18(None, 0)\n"
                  "images = [open(p, 'rb').read() for p in sys.argv[2:]]\n"
                  "numpy.save(sys.argv[1], vision.classify(model, images).numpy())\n"
                  "''', out, *paths], check=True, env=dict(__import__('os').environ, "
                  "PYTHONPATH=__import__('os').path.dirname(__import__('pybridge').__path__[0])))"),
              {npy, pyb::Value(pyb::List{{paths[0], paths[1], paths[2]}})});
    EXPECT_LE(max_diff_to_npy(logits, npy), 1e-5);
    // The images differ, so do their logits (the comparison above is not of constants).
    EXPECT_NE(logits.data_as<float>()[0], logits.data_as<float>()[1000]);
}

TEST(ClassifyImages, WeightFilesLoadFromPthAndSafetensors) {
    const std::string dir = temp_dir();
    py().call(pyb_test::py_fn("lambda d: [__import__('torch').save(m.state_dict(), d + '/w.pth'), "
                              "__import__('safetensors.torch').torch.save_file(m.state_dict(), d + '/w.safetensors')] "
                              "if (m := __import__('pybridge.vision').vision.load_resnet18(None, 5)[0]) else None"),
              {dir});
    const std::string image = classify::read_file(classify::sample_images(py(), dir + "/samples")[2]);
    classify::Classifier from_pth(py(), dir + "/w.pth"), from_st(py(), dir + "/w.safetensors"), seeded(py(), "", 5),
        other(py(), "", 0);
    EXPECT_EQ(from_pth.weights_description(), "weights from " + dir + "/w.pth");
    const pyb::Tensor a = from_pth.logits({image}), b = from_st.logits({image}), c = seeded.logits({image}),
                      d = other.logits({image});
    for (int i = 0; i < 1000; ++i) {
        ASSERT_EQ(a.data_as<float>()[i], c.data_as<float>()[i]) << i;
        ASSERT_EQ(b.data_as<float>()[i], c.data_as<float>()[i]) << i;
    }
    EXPECT_NE(c.data_as<float>()[0], d.data_as<float>()[0]);  // the seed matters
}

TEST(ClassifyImages, BadInputIsAClearError) {
    EXPECT_EQ(error_of([] { classify::read_file("/nonexistent/cat.png"); }),
              "cannot open '/nonexistent/cat.png': No such file or directory");
    classify::Classifier classifier(py());
    EXPECT_EQ(error_of([&] { classifier.logits({"this is not an image"}); }),
              "ValueError: image 0: not an image torchvision can decode (PNG, JPEG, WebP, GIF)");
    EXPECT_EQ(error_of([&] { classifier.logits({"x"}, {"/data/cat.png"}); }),
              "ValueError: /data/cat.png: not an image torchvision can decode (PNG, JPEG, WebP, GIF)");
    EXPECT_EQ(error_of([] { classify::read_file("/tmp"); }), "'/tmp' is a directory");
    EXPECT_EQ(classifier.logits({}).shape(), (std::vector<std::int64_t>{0, 1000}));
    EXPECT_EQ(error_of([&] { classify::Classifier(py(), "/nonexistent/w.pth"); }),
              "FileNotFoundError: weights file '/nonexistent/w.pth' does not exist");
    const std::string not_weights = temp_dir() + "/not_weights.pth";
    { std::ofstream(not_weights) << "not a state dict"; }
    EXPECT_EQ(error_of([&] { classify::Classifier(py(), not_weights); })
                  .rfind("ValueError: '" + not_weights + "' is not a ResNet-18 state dict (.pth or .safetensors): ", 0),
              0u);
}
