#include "classify.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <sys/stat.h>

namespace classify {

std::string read_file(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw std::runtime_error("'" + path + "' is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw std::runtime_error("cannot read '" + path + "'");
    return bytes;
}

std::vector<Prediction> top_k(const float *logits, std::size_t n, std::size_t k) {
    if (n == 0) return {};
    const double top = *std::max_element(logits, logits + n);
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += std::exp(double(logits[i]) - top);
    std::vector<Prediction> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = {static_cast<int>(i), std::exp(double(logits[i]) - top) / total};
    k = std::min(k, n);
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                      [](const Prediction &a, const Prediction &b) {
                          return a.probability != b.probability ? a.probability > b.probability : a.index < b.index;
                      });
    all.resize(k);
    return all;
}

std::vector<std::string> sample_images(pyb::Bridge &py, const std::string &directory) {
    std::vector<std::string> paths;
    const pyb::Value saved = py.call_method(py.import("pybridge.vision"), "save_sample_images", {directory});
    for (const pyb::Value &p : saved.as_list().items) paths.push_back(p.as_str());
    return paths;
}

std::string default_sample_dir() {
    if (const char *cache = std::getenv("PYBRIDGE_CACHE_DIR"); cache && *cache) return std::string(cache) + "/sample_images";
    const char *home = std::getenv("HOME");
    return std::string(home && *home ? home : ".") + "/.cache/pybridge/sample_images";
}

Classifier::Classifier(pyb::Bridge &py, const std::string &weights, int seed) : py_(py) {
    vision_ = py.import("pybridge.vision");
    const pyb::ObjectRef loaded = py.call_method_ref(
        vision_, "load_resnet18", {weights.empty() ? pyb::Value() : pyb::Value(weights), seed});
    model_ = py.getitem(loaded, 0).as_object();
    description_ = py.getitem(loaded, 1).as_str();
    const pyb::Value names = py.call_method(vision_, "categories");
    for (const pyb::Value &c : names.as_list().items) categories_.push_back(c.as_str());
}

pyb::Tensor Classifier::logits(const std::vector<std::string> &images, const std::vector<std::string> &names) {
    std::vector<pyb::Value> items, labels;
    items.reserve(images.size());
    for (const std::string &bytes : images) items.emplace_back(pyb::Bytes{bytes});
    for (const std::string &n : names) labels.emplace_back(n);
    pyb::Value names_value = names.empty() ? pyb::Value() : pyb::Value(pyb::List{std::move(labels)});
    return py_
        .call_method(vision_, "classify",
                     {pyb::Value(model_), pyb::Value(pyb::List{std::move(items)}), std::move(names_value)})
        .as_tensor();
}

}  // namespace classify
