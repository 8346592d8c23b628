// sentence_similarity [FILE] [--top K] [--json]
//
// Embeds one sentence per line of FILE (default: examples/data/sentences.txt) with
// all-MiniLM-L6-v2 running in the embedded Python, gets the embedding matrix back through
// DLPack without a copy, and prints each sentence's K nearest other sentences by cosine
// similarity, computed here in C++.
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "similarity.hpp"

namespace {

constexpr const char *kUsage =
    "usage: sentence_similarity [FILE] [--top K] [--json]\n"
    "  FILE     one sentence per line (default: the shipped examples/data/sentences.txt)\n"
    "  --top K  neighbours per sentence (default 3)\n"
    "  --json   print one JSON document instead of text\n";

int fail(const std::string &message, int code = 1) {
    std::cerr << "sentence_similarity: error: " << message << "\n";
    return code;
}

}  // namespace

int main(int argc, char **argv) {
    std::string path = similarity::default_sentences_path();
    int top = 3;
    bool json = false;
    bool have_path = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            return 0;
        } else if (arg == "--json") {
            json = true;
        } else if (arg == "--top") {
            if (i + 1 >= argc) return fail("--top needs a number", 2);
            char *end = nullptr;
            const long k = std::strtol(argv[++i], &end, 10);
            if (!end || *end || k < 1 || k > INT_MAX)
                return fail(std::string("--top needs a positive integer, got '") + argv[i] + "'", 2);
            top = static_cast<int>(k);
        } else if (!arg.empty() && arg[0] == '-') {
            return fail("unknown option '" + arg + "' (see --help)", 2);
        } else if (have_path) {
            return fail("more than one FILE given (see --help)", 2);
        } else {
            path = arg;
            have_path = true;
        }
    }

    try {
        const auto sentences = similarity::read_sentences(path);
        pyb::Bridge bridge;
        const auto embeddings = similarity::embed(bridge, sentences);
        const auto neighbours = similarity::nearest_neighbours(embeddings, top);
        std::cout << (json ? similarity::format_json(sentences, neighbours)
                           : similarity::format_text(sentences, neighbours));
        std::cout.flush();
        bridge.stop();
    } catch (const pyb::PythonError &e) {
        return fail(e.type_name() + ": " + e.message());
    } catch (const std::exception &e) {
        return fail(e.what());
    }
    return 0;
}
