"""Image classification helpers for the host: sample photos, ResNet-18, preprocessing.

The host (examples/classify_images) reads image files itself and hands their raw bytes to
classify(); decoding and the torchvision transforms run here; the logits go back to the
host through DLPack. Everything here also runs in plain Python, which is how the tests
check the host's results.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

# Photos bundled with scikit-image (no download), and the format each is saved in.
SAMPLE_IMAGES = {"astronaut": "png", "coffee": "jpg", "chelsea": "png"}


def save_sample_images(directory: str | os.PathLike) -> list[str]:
    """Writes scikit-image's astronaut (PNG), coffee (JPEG) and chelsea (PNG) photos into
    `directory` (created if needed; existing files are kept) and returns their paths."""
    from PIL import Image
    from skimage import data

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fmt in SAMPLE_IMAGES.items():
        path = directory / f"{name}.{fmt}"
        if not path.is_file():
            tmp = path.with_suffix(path.suffix + ".tmp")
            Image.fromarray(getattr(data, name)()).save(tmp, format="JPEG" if fmt == "jpg" else "PNG")
            tmp.replace(path)  # whole files only, even if two runs race
        paths.append(str(path))
    return paths


def load_resnet18(weights: str | os.PathLike | None = None, seed: int = 0):
    """torchvision's ResNet-18 in eval mode, and a line saying where its weights came from.

    weights: a state dict saved with torch.save (.pth/.pt) or safetensors (.safetensors);
    None: a random initialisation after torch.manual_seed(seed) (predictions are then
    meaningless, and the description says so).
    """
    import torch
    from torchvision.models import resnet18

    if weights is None:
        torch.manual_seed(seed)
        return resnet18(weights=None).eval(), f"random initialisation (seed {seed}): NOT trained weights"
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        model = resnet18(weights=None)
        model.load_state_dict(state)
    except Exception as e:
        first_line = (str(e).splitlines() or [""])[0][:160]
        raise ValueError(f"{str(path)!r} is not a ResNet-18 state dict (.pth or .safetensors): "
                         f"{type(e).__name__}: {first_line}") from e
    return model.eval(), f"weights from {path}"


def categories() -> list[str]:
    """The 1,000 ImageNet class names, in logit order (shipped with torchvision)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def preprocess(image: bytes):
    """Encoded image bytes (PNG, JPEG, ...) -> float32 (3, 224, 224), ImageNet-normalized:
    decode to RGB, resize the short side to 256 (bilinear, antialiased), center-crop 224."""
    import torch
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms import v2

    if not isinstance(image, (bytes, bytearray, memoryview)):
        raise TypeError(f"preprocess() takes the encoded image's bytes, not {type(image).__name__}")
    pixels = decode_image(torch.frombuffer(bytearray(image), dtype=torch.uint8), mode=ImageReadMode.RGB)
    transform = v2.Compose([
        v2.Resize(256, antialias=True),
        v2.CenterCrop(224),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    return transform(pixels)


def classify(model, images: Sequence[bytes], names: Sequence[str] | None = None):
    """Logits float32 (len(images), 1000) for encoded images, in one batch. `names` (e.g.
    the file paths) are only used to say which image could not be decoded (ValueError)."""
    import torch

    if len(images) == 0:
        return torch.empty((0, 1000), dtype=torch.float32)
    tensors = []
    for i, image in enumerate(images):
        try:
            tensors.append(preprocess(image))
        except RuntimeError as e:
            name = names[i] if names is not None and i < len(names) else f"image {i}"
            raise ValueError(f"{name}: not an image torchvision can decode (PNG, JPEG, WebP, GIF)") from e
    batch = torch.stack(tensors)
    with torch.inference_mode():
        return model(batch).float().contiguous()
