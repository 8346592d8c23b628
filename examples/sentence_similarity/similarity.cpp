#include "similarity.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#ifndef PYBRIDGE_EXAMPLES_DATA_DIR
#define PYBRIDGE_EXAMPLES_DATA_DIR "examples/data"
#endif

namespace similarity {

namespace {

// Byte offset of the first invalid UTF-8 sequence in `s`, or npos.
size_t invalid_utf8_at(const std::string &s) {
    const auto *p = reinterpret_cast<const unsigned char *>(s.data());
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + len > n) return i;
        for (size_t k = 1; k < len; ++k)
            if ((p[i + k] & 0xc0) != 0x80) return i;
        const std::uint32_t cp = len == 1 ? c
                                 : len == 2 ? ((c & 0x1fu) << 6) | (p[i + 1] & 0x3fu)
                                 : len == 3 ? ((c & 0x0fu) << 12) | ((p[i + 1] & 0x3fu) << 6) | (p[i + 2] & 0x3fu)
                                            : ((c & 0x07u) << 18) | ((p[i + 1] & 0x3fu) << 12) |
                                                  ((p[i + 2] & 0x3fu) << 6) | (p[i + 3] & 0x3fu);
        const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return std::string::npos;
}

}  // namespace

std::vector<std::string> read_sentences(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw std::runtime_error("'" + path + "' is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read '" + path + "': " + std::strerror(errno));
    std::vector<std::string> out;
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
        if (number == 1 && line.rfind("\xef\xbb\xbf", 0) == 0) line.erase(0, 3);  // UTF-8 BOM
        if (const size_t bad = invalid_utf8_at(line); bad != std::string::npos) {
            throw std::runtime_error("'" + path + "' line " + std::to_string(number) +
                                     " is not valid UTF-8 (byte " + std::to_string(bad + 1) + ")");
        }
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
    const std::int64_t n = emb.count(), dim = emb.dim();
    // Unit rows, packed: the read of the zero-copy view (any strides) happens once, and the
    // O(n^2 dim) loop below runs over contiguous floats the compiler can vectorise.
    std::vector<float> unit(static_cast<size_t>(n * dim));
    const float *base = emb.matrix.data_as<float>();
    const std::int64_t s0 = emb.matrix.strides()[0], s1 = emb.matrix.strides()[1];
    for (std::int64_t i = 0; i < n; ++i) {
        const float scale = static_cast<float>(emb.inverse_norms[static_cast<size_t>(i)]);
        for (std::int64_t d = 0; d < dim; ++d) unit[static_cast<size_t>(i * dim + d)] = base[i * s0 + d * s1] * scale;
    }
    std::vector<std::vector<Neighbour>> out(static_cast<size_t>(n));
    std::vector<Neighbour> scores;
    for (std::int64_t i = 0; i < n; ++i) {
        scores.clear();
        const float *a = &unit[static_cast<size_t>(i * dim)];
        for (std::int64_t j = 0; j < n; ++j) {
            if (j == i) continue;
            const float *b = &unit[static_cast<size_t>(j * dim)];
            float dot = 0;
            for (std::int64_t d = 0; d < dim; ++d) dot += a[d] * b[d];
            scores.push_back({j, static_cast<double>(dot)});
        }
        const auto keep = std::min<size_t>(static_cast<size_t>(std::max(k, 0)), scores.size());
        std::partial_sort(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(keep), scores.end(),
                          [](const Neighbour &x, const Neighbour &y) {
                              return x.score != y.score ? x.score > y.score : x.index < y.index;
                          });
        out[static_cast<size_t>(i)].assign(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(keep));
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
