"""The handwritten digits of examples/train_digits: data, model and checkpoints.

The host owns the data and drives the training loop; this module only builds things.
"""

from __future__ import annotations


def load_digits():
    """scikit-learn's 8x8 digits (1,797 images, bundled: no download): pixels float32
    (n, 64) scaled to [0, 1], labels int64 (n,)."""
    import torch
    from sklearn.datasets import load_digits as sk_load_digits

    data = sk_load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target, dtype=torch.int64)
    return x, y


def make_mlp(features: int = 64, hidden: int = 128, classes: int = 10, seed: int = 0):
    """A two-layer perceptron, weights drawn after torch.manual_seed(seed)."""
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes)
    )


def make_optimizer(model, lr: float = 1e-3):
    import torch

    return torch.optim.Adam(model.parameters(), lr=lr)


def save_checkpoint(model, path: str) -> None:
    """The model's weights as safetensors."""
    import os

    from safetensors.torch import save_file

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save the checkpoint {path!r}: folder {folder!r} does not exist")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)


def load_checkpoint(path: str, features: int = 64, hidden: int = 128, classes: int = 10):
    """A fresh model with the weights saved at `path`."""
    from safetensors.torch import load_file

    model = make_mlp(features, hidden, classes)
    model.load_state_dict(load_file(path))
    return model
