// Sentence similarity on top of pybridge: Python tokenizes and runs all-MiniLM-L6-v2 and
// hands the embedding matrix back through DLPack; everything else happens here, in C++.
//
// Thread contract: functions taking a Bridge may be called from any host thread; the rest
// are plain C++.
#pragma once

#include <bridge/pybridge.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace similarity {

// One sentence per line; blank lines and surrounding whitespace are dropped.
// Throws std::runtime_error naming the file if it cannot be read or has no sentences.
std::vector<std::string> read_sentences(const std::string &path);

// The shipped sample: examples/data/sentences.txt.
std::string default_sentences_path();

// Mean-pooled sentence embeddings, float32 [n, dim], viewed zero-copy in torch's memory.
struct Embeddings {
    pyb::Tensor matrix;
    std::vector<double> inverse_norms;  // 1 / ||row i||

    std::int64_t count() const { return matrix.shape()[0]; }
    std::int64_t dim() const { return matrix.shape()[1]; }
    float raw(std::int64_t row, std::int64_t col) const;  // honours strides
    // Row `row` scaled to unit length: all-MiniLM-L6-v2's final Normalize step.
    double normalized(std::int64_t row, std::int64_t col) const { return raw(row, col) * inverse_norms[static_cast<size_t>(row)]; }
};

// Loads the encoder once per process (cached in Python) and embeds `sentences`.
// Throws pyb::PythonError (e.g. pybridge.models.ModelNotInstalled) or pyb::Error.
Embeddings embed(pyb::Bridge &bridge, const std::vector<std::string> &sentences);

struct Neighbour {
    std::int64_t index;  // into the sentence list
    double score;        // cosine similarity in [-1, 1]
};

// For each sentence, its `k` most similar other sentences, best first (ties: lower index).
std::vector<std::vector<Neighbour>> nearest_neighbours(const Embeddings &emb, int k);

// Output formats of the program.
std::string format_text(const std::vector<std::string> &sentences,
                        const std::vector<std::vector<Neighbour>> &neighbours);
std::string format_json(const std::vector<std::string> &sentences,
                        const std::vector<std::vector<Neighbour>> &neighbours);

}  // namespace similarity
