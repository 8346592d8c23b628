#include "similarity.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#ifndef PYBRIDGE_EXAMPLES_DATA_DIR
#define PYBRIDGE_EXAMPLES_DATA_DIR "examples/data"
#endif

namespace similarity {

std::vector<std::string> read_sentences(const std::string &path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read '" + path + "'");
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        const auto first = line.find_first_not_of(" \t\r\n");
        if (first == std::string::npos) continue;
        const auto last = line.find_last_not_of(" \t\r\n");
        out.push_back(line.substr(first, last - first + 1));
    }
    if (in.bad()) throw std::runtime_error("error while reading '" + path + "'");
    if (out.empty()) throw std::runtime_error("'" + path + "' contains no sentences");
    return out;
}

std::string default_sentences_path() { return PYBRIDGE_EXAMPLES_DATA_DIR "/sentences.txt"; }

float Embeddings::raw(std::int64_t row, std::int64_t col) const {
    const auto &st = matrix.strides();
    return matrix.data_as<float>()[row * st[0] + col * st[1]];
}

Embeddings embed(pyb::Bridge &bridge, const std::vector<std::string> &sentences) {
    pyb::List batch;
    batch.items.assign(sentences.begin(), sentences.end());
    // Cache the encoder in __main__ so repeated calls load the model once.
    bridge.exec(
        "if '_pybridge_encoder' not in globals():\n"
        "    import pybridge.models\n"
        "    _pybridge_encoder = pybridge.models.load_sentence_encoder()\n");
    pyb::ObjectRef encoder = bridge.eval("_pybridge_encoder").as_object();
    pyb::Value result = bridge.call_method(encoder, "encode", {pyb::Value(std::move(batch))});

    Embeddings emb{result.as_tensor(), {}};
    const pyb::Tensor &m = emb.matrix;
    if (m.ndim() != 2 || m.shape()[0] != static_cast<std::int64_t>(sentences.size())) {
        throw pyb::Error("encoder returned " + m.describe() + ", expected float32[" +
                         std::to_string(sentences.size()) + ", dim]");
    }
    m.check_dtype(pyb::dtype_of<float>());
    emb.inverse_norms.resize(sentences.size());
    for (std::int64_t i = 0; i < emb.count(); ++i) {
        double sq = 0;
        for (std::int64_t j = 0; j < emb.dim(); ++j) sq += double(emb.raw(i, j)) * emb.raw(i, j);
        emb.inverse_norms[static_cast<size_t>(i)] = sq > 0 ? 1.0 / std::sqrt(sq) : 0.0;
    }
    return emb;
}

std::vector<std::vector<Neighbour>> nearest_neighbours(const Embeddings &emb, int k) {
    const std::int64_t n = emb.count();
    std::vector<std::vector<Neighbour>> out(static_cast<size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        std::vector<Neighbour> scores;
        scores.reserve(static_cast<size_t>(n));
        for (std::int64_t j = 0; j < n; ++j) {
            if (j == i) continue;
            double dot = 0;
            for (std::int64_t d = 0; d < emb.dim(); ++d) dot += double(emb.raw(i, d)) * emb.raw(j, d);
            scores.push_back({j, dot * emb.inverse_norms[static_cast<size_t>(i)] *
                                     emb.inverse_norms[static_cast<size_t>(j)]});
        }
        const auto keep = std::min<size_t>(static_cast<size_t>(std::max(k, 0)), scores.size());
        std::partial_sort(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(keep), scores.end(),
                          [](const Neighbour &a, const Neighbour &b) {
                              return a.score != b.score ? a.score > b.score : a.index < b.index;
                          });
        scores.resize(keep);
        out[static_cast<size_t>(i)] = std::move(scores);
    }
    return out;
}

namespace {

std::string score4(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", s);
    return buf;
}

std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);  // UTF-8 passes through unchanged
                }
        }
    }
    return out + "\"";
}

}  // namespace

std::string format_text(const std::vector<std::string> &sentences,
                        const std::vector<std::vector<Neighbour>> &neighbours) {
    std::string out;
    for (size_t i = 0; i < sentences.size(); ++i) {
        out += sentences[i] + "\n";
        for (const Neighbour &nb : neighbours[i]) {
            out += "    " + score4(nb.score) + "  " + sentences[static_cast<size_t>(nb.index)] + "\n";
        }
    }
    return out;
}

std::string format_json(const std::vector<std::string> &sentences,
                        const std::vector<std::vector<Neighbour>> &neighbours) {
    std::string out = "[";
    for (size_t i = 0; i < sentences.size(); ++i) {
        out += i ? ",\n " : "\n ";
        out += "{\"sentence\": " + json_string(sentences[i]) + ", \"neighbours\": [";
        for (size_t j = 0; j < neighbours[i].size(); ++j) {
            const Neighbour &nb = neighbours[i][j];
            out += (j ? ", " : "");
            out += "{\"sentence\": " + json_string(sentences[static_cast<size_t>(nb.index)]) +
                   ", \"score\": " + score4(nb.score) + "}";
        }
        out += "]}";
    }
    return out + "\n]\n";
}

}  // namespace similarity
