// The main example on the real all-MiniLM-L6-v2: the embeddings that reach C++ through
// DLPack equal sentence-transformers' own, and the paraphrases in the shipped data find
// each other.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "shared_bridge.hpp"
#include "sentence_similarity/similarity.hpp"

using pyb_test::bridge;

namespace {

const std::vector<std::string> &sentences() {
    static const auto s = similarity::read_sentences(similarity::default_sentences_path());
    return s;
}

const similarity::Embeddings &embeddings() {
    static const similarity::Embeddings e = similarity::embed(bridge(), sentences());
    return e;
}

std::int64_t index_of(const std::string &sentence) {
    const auto &s = sentences();
    const auto it = std::find(s.begin(), s.end(), sentence);
    if (it == s.end()) throw std::runtime_error("not in the data: " + sentence);
    return it - s.begin();
}

}  // namespace

TEST(SentenceSimilarity, ShippedDataHasAboutFiftySentences) {
    EXPECT_EQ(sentences().size(), 50u);
    EXPECT_EQ(embeddings().matrix.describe(), "float32[50, 384] on cpu");
}

TEST(SentenceSimilarity, EmbeddingsEqualSentenceTransformersInPurePython) {
    // The reference: sentence-transformers' full pipeline (which normalizes), run in Python.
    pyb::List batch;
    batch.items.assign(sentences().begin(), sentences().end());
    bridge().exec(
        "def _st_reference(sentences):\n"
        "    from sentence_transformers import SentenceTransformer\n"
        "    import pybridge.models\n"
        "    model = SentenceTransformer(str(pybridge.models.minilm_path()), device='cpu')\n"
        "    return model.encode(sentences, convert_to_numpy=True).tolist()\n");
    const pyb::Value ref = bridge().call(bridge().eval("_st_reference").as_object(), {pyb::Value(batch)});
    const auto &rows = ref.as_list().items;
    ASSERT_EQ(rows.size(), sentences().size());
    double max_diff = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        const std::vector<double> &row = rows[i].as_float_list().items;  // a list of floats arrives packed
        ASSERT_EQ(static_cast<std::int64_t>(row.size()), embeddings().dim());
        for (size_t j = 0; j < row.size(); ++j) {
            const double mine = embeddings().normalized(static_cast<std::int64_t>(i), static_cast<std::int64_t>(j));
            max_diff = std::max(max_diff, std::abs(mine - row[j]));
        }
    }
    EXPECT_LE(max_diff, 1e-5);
}

TEST(SentenceSimilarity, ParaphrasesAreEachOthersNearestNeighbour) {
    const auto neighbours = similarity::nearest_neighbours(embeddings(), 3);
    const std::pair<const char *, const char *> pairs[] = {
        {"The cat is sleeping on the warm windowsill.", "A kitten naps in the sunshine by the window."},
        {"How do I reset my email password?", "What are the steps to change the password of my mail account?"},
        {"He repaired the leaking kitchen tap with a new washer.", "The plumber fixed the dripping faucet in the kitchen."},
        {"The children built a sandcastle at the beach.", "Kids made a castle out of sand by the sea."},
        {"Astronomers discovered a planet orbiting a distant star.", "Scientists have found an exoplanet circling a faraway star."},
        {"He scored the winning goal in the final minute of the match.", "In the last minute of the game he scored the decisive goal."},
    };
    for (const auto &[a, b] : pairs) {
        SCOPED_TRACE(a);
        const auto ia = index_of(a), ib = index_of(b);
        EXPECT_EQ(neighbours[static_cast<size_t>(ia)].front().index, ib);
        EXPECT_EQ(neighbours[static_cast<size_t>(ib)].front().index, ia);
        EXPECT_GT(neighbours[static_cast<size_t>(ia)].front().score, 0.5);
    }
    // Scores are sorted, in [-1, 1], and a sentence is never its own neighbour.
    for (size_t i = 0; i < neighbours.size(); ++i) {
        ASSERT_EQ(neighbours[i].size(), 3u);
        for (size_t j = 0; j < 3; ++j) {
            EXPECT_NE(neighbours[i][j].index, static_cast<std::int64_t>(i));
            EXPECT_LE(std::abs(neighbours[i][j].score), 1.0 + 1e-9);
            if (j) {
                EXPECT_GE(neighbours[i][j - 1].score, neighbours[i][j].score);
            }
        }
    }
}

TEST(SentenceSimilarity, CosineMatchesTorchOnTheSameEmbeddings) {
    // The C++ cosine against torch's, on the host view handed back to Python.
    const auto neighbours = similarity::nearest_neighbours(embeddings(), 1);
    const pyb::Value torch_score = bridge().call(
        bridge().eval("lambda m, i, j: __import__('torch').nn.functional.cosine_similarity(m[i], m[j], dim=0).item()").as_object(),
        {embeddings().matrix, 0, neighbours[0][0].index});
    EXPECT_NEAR(neighbours[0][0].score, torch_score.as_float(), 1e-6);
}

TEST(SentenceSimilarity, BadInputFilesAreClearErrors) {
    auto error_of = [](const std::string &path) -> std::string {
        try {
            similarity::read_sentences(path);
        } catch (const std::runtime_error &e) {
            return e.what();
        }
        return "no error";
    };
    EXPECT_EQ(error_of("/nonexistent/sentences.txt"), "cannot read '/nonexistent/sentences.txt': No such file or directory");
    EXPECT_EQ(error_of(::testing::TempDir()), "'" + ::testing::TempDir() + "' is a directory");
    const std::string empty = ::testing::TempDir() + "empty_sentences.txt";
    std::ofstream(empty) << "\n   \n";
    EXPECT_EQ(error_of(empty), "'" + empty + "' contains no sentences");
    const std::string bad = ::testing::TempDir() + "bad_utf8.txt";
    std::ofstream(bad, std::ios::binary) << "fine\nab\xff cd\nfine too\n";
    EXPECT_EQ(error_of(bad), "'" + bad + "' line 2 is not valid UTF-8 (byte 3)");
    std::ofstream(bad, std::ios::binary) << "ok\n\xed\xa0\x80 surrogate\n";  // UTF-8-encoded surrogate
    EXPECT_EQ(error_of(bad), "'" + bad + "' line 2 is not valid UTF-8 (byte 1)");
}

TEST(SentenceSimilarity, ByteOrderMarkAndCrlfAreNotPartOfSentences) {
    const std::string path = ::testing::TempDir() + "bom.txt";
    std::ofstream(path, std::ios::binary) << "\xef\xbb\xbf" "First one.\r\n  Second one.  \r\n";
    EXPECT_EQ(similarity::read_sentences(path), (std::vector<std::string>{"First one.", "Second one."}));
}
