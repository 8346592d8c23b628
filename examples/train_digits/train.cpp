#include "train.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>

namespace digits {
namespace {

pyb::Tensor view(const float *x, std::int64_t rows, std::int64_t features) {
    return pyb::Tensor::from_buffer(const_cast<float *>(x), {rows, features}, pyb::dtype_of<float>());
}
pyb::Tensor view(const std::int64_t *y, std::int64_t rows) {
    return pyb::Tensor::from_buffer(const_cast<std::int64_t *>(y), {rows}, pyb::dtype_of<std::int64_t>());
}

// Row-wise argmax of float32 logits (rows, classes).
std::vector<std::int64_t> argmax_rows(const pyb::Tensor &logits) {
    const std::int64_t rows = logits.shape()[0], classes = logits.shape()[1];
    const float *p = logits.data_as<float>();
    std::vector<std::int64_t> out(static_cast<size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r)
        out[static_cast<size_t>(r)] = std::max_element(p + r * classes, p + (r + 1) * classes) - (p + r * classes);
    return out;
}

std::vector<std::int64_t> predict(pyb::Bridge &py, const pyb::ObjectRef &model, const Dataset &test) {
    const pyb::Op forward(py, model, "model");
    pyb::GradScope inference(pyb::GradMode::Inference);
    return argmax_rows(forward({view(test.x.data(), test.size(), test.features)}).as_tensor());
}

void progress_bar(int epoch, int epochs, int done, int batches, double loss) {
    constexpr int kWidth = 30;
    const int filled = batches ? done * kWidth / batches : kWidth;
    std::fprintf(stderr, "\repoch %3d/%d [%.*s%.*s] loss %.4f", epoch, epochs, filled,
                 "##############################", kWidth - filled, "..............................", loss);
    if (done == batches) std::fputc('\n', stderr);
}

}  // namespace

Dataset load(pyb::Bridge &py) {
    const pyb::ObjectRef xy = py.call_method_ref(py.import("pybridge.digits"), "load_digits");
    const pyb::Tensor x = py.getitem(xy, 0).as_tensor(), y = py.getitem(xy, 1).as_tensor();
    Dataset d;
    d.features = x.shape()[1];
    d.x.assign(x.data_as<float>(), x.data_as<float>() + x.numel());  // the host owns its copy
    d.y.assign(y.data_as<std::int64_t>(), y.data_as<std::int64_t>() + y.numel());
    return d;
}

void split(const Dataset &all, double test_fraction, std::uint32_t seed, Dataset &train, Dataset &test) {
    std::vector<std::int64_t> order(static_cast<size_t>(all.size()));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    const auto n_test = static_cast<size_t>(test_fraction * static_cast<double>(order.size()) + 0.5);
    train = test = Dataset{};
    train.features = test.features = all.features;
    for (size_t k = 0; k < order.size(); ++k) {
        Dataset &to = k < n_test ? test : train;
        const auto i = static_cast<size_t>(order[k]);
        to.x.insert(to.x.end(), all.x.begin() + static_cast<std::ptrdiff_t>(i * all.features),
                    all.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * all.features));
        to.y.push_back(all.y[i]);
    }
}

Result train(pyb::Bridge &py, const Dataset &train_set, const Dataset &test, const Options &options,
             const std::string &checkpoint) {
    const pyb::ObjectRef helpers = py.import("pybridge.digits");
    const pyb::ObjectRef model =
        py.call_method_ref(helpers, "make_mlp", {train_set.features, 128, 10, static_cast<std::int64_t>(options.seed)});
    const pyb::ObjectRef optimizer = py.call_method_ref(helpers, "make_optimizer", {pyb::Value(model), options.lr});
    const pyb::Op forward(py, model, "model");
    const pyb::Op cross_entropy = pyb::Op::resolve(py, "torch.nn.functional.cross_entropy");

    Result result;
    std::mt19937 rng(options.seed + 1);
    std::vector<std::int64_t> order(static_cast<size_t>(train_set.size()));
    std::iota(order.begin(), order.end(), 0);
    std::vector<float> bx;
    std::vector<std::int64_t> by;
    const int batches = static_cast<int>((train_set.size() + options.batch - 1) / options.batch);
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        std::shuffle(order.begin(), order.end(), rng);
        double total = 0;
        for (int b = 0; b < batches; ++b) {
            // Gather the batch into contiguous host buffers; torch views them (no copy).
            const size_t first = static_cast<size_t>(b) * static_cast<size_t>(options.batch);
            const size_t last = std::min(order.size(), first + static_cast<size_t>(options.batch));
            bx.clear();
            by.clear();
            for (size_t k = first; k < last; ++k) {
                const auto i = static_cast<size_t>(order[k]);
                bx.insert(bx.end(), train_set.x.begin() + static_cast<std::ptrdiff_t>(i * train_set.features),
                          train_set.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * train_set.features));
                by.push_back(train_set.y[i]);
            }
            const auto rows = static_cast<std::int64_t>(by.size());
            const pyb::ObjectRef logits = forward.call_ref({view(bx.data(), rows, train_set.features)});
            const pyb::ObjectRef loss = cross_entropy.call_ref({pyb::Value(logits), view(by.data(), rows)});
            py.call_method(optimizer, "zero_grad");
            py.call_method(loss, "backward");
            py.call_method(optimizer, "step");
            total += py.call_method(loss, "item").as_float();
            if (options.progress) progress_bar(epoch, options.epochs, b + 1, batches, total / (b + 1));
        }
        result.epoch_loss.push_back(total / batches);
    }
    result.predictions = predict(py, model, test);
    std::int64_t right = 0;
    for (size_t i = 0; i < test.y.size(); ++i) right += result.predictions[i] == test.y[i];
    result.accuracy = test.y.empty() ? 0 : static_cast<double>(right) / static_cast<double>(test.y.size());
    py.call_method(helpers, "save_checkpoint", {pyb::Value(model), checkpoint});
    return result;
}

std::vector<std::int64_t> predict_from_checkpoint(pyb::Bridge &py, const std::string &checkpoint, const Dataset &test) {
    const pyb::ObjectRef model = py.call_method_ref(py.import("pybridge.digits"), "load_checkpoint", {checkpoint});
    return predict(py, model, test);
}

}  // namespace digits
