// HuggingFace transformers driven from a host, against the same work in a plain Python
// process (the environment's python, started by the test). The MiniLM encoder's case is in
// tests/cpp/test_sentence_similarity.cpp (EmbeddingsEqualSentenceTransformersInPurePython).
#include <gtest/gtest.h>

#include <vector>

#include "../shared_bridge.hpp"

namespace {
pyb::Bridge &py() { return pyb_test::bridge(); }
}  // namespace

TEST(Transformers, Gpt2GreedyGenerateFromTheHostEqualsPlainPython) {
    // The prompt: host memory, handed to Python through DLPack.
    std::vector<std::int64_t> prompt = {11, 42, 7, 99, 500, 3, 250, 768};
    const pyb::Tensor ids = pyb::Tensor::from_buffer(prompt.data(), {1, 8}, pyb::dtype_of<std::int64_t>());
    const pyb::ObjectRef models = py().import("pybridge.models");
    const pyb::ObjectRef model = py().call_method_ref(models, "tiny_gpt2", {0});
    const pyb::Tensor out = py().call_method(models, "greedy_generate", {pyb::Value(model), ids}, {{"new_tokens", 20}})
                                .as_tensor();
    ASSERT_EQ(out.shape(), (std::vector<std::int64_t>{1, 28}));
    const std::int64_t *tokens = out.data_as<std::int64_t>();
    for (int i = 0; i < 8; ++i) EXPECT_EQ(tokens[i], prompt[static_cast<size_t>(i)]) << i;  // the prompt comes first
    std::vector<pyb::Value> host_tokens(tokens, tokens + 28);

    // The same in a plain Python process.
    py().exec(
        "import os, subprocess, sys, pybridge\n"
        "_plain = subprocess.run([sys.executable, '-c', '''\n"
        "import torch\n"
        "from pybridge import models\n"
        "ids = torch.tensor([[11, 42, 7, 99, 500, 3, 250, 768]])\n"
        "print(models.greedy_generate(models.tiny_gpt2(0), ids, new_tokens=20)[0].tolist())\n"
        "'''], capture_output=True, text=True, check=True,\n"
        "    env=dict(os.environ, PYTHONPATH=os.path.dirname(pybridge.__path__[0]), HF_HUB_OFFLINE='1'))\n"
        "_plain_tokens = eval(_plain.stdout)\n");
    EXPECT_EQ(py().eval("_plain_tokens"), pyb::Value(pyb::List{host_tokens}));
    // Random weights still make a real continuation: more than one distinct new token.
    EXPECT_GT(py().eval("len(set(_plain_tokens[8:]))").as_int(), 5);
}
