"""Simple's symbols (`:f32`, `:cuda`) on the Python side.

A host Symbol arrives as `pybridge.Symbol`, a str subclass (so it works wherever a string
does) that converts back to a host symbol. The resolve helpers turn dtype and device
symbols into torch objects.
"""

from __future__ import annotations


class Symbol(str):
    """A Simple symbol: Symbol("f32") is `:f32`. Equal to the plain string of its name."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Symbol({str.__repr__(self)})"


# dtype symbols: Simple's short names and torch's own names.
_DTYPES = {
    "bool": "bool",
    "u8": "uint8", "uint8": "uint8", "u16": "uint16", "uint16": "uint16",
    "u32": "uint32", "uint32": "uint32", "u64": "uint64", "uint64": "uint64",
    "i8": "int8", "int8": "int8", "i16": "int16", "int16": "int16",
    "i32": "int32", "int32": "int32", "i64": "int64", "int64": "int64",
    "f16": "float16", "float16": "float16", "half": "float16",
    "bf16": "bfloat16", "bfloat16": "bfloat16",
    "f32": "float32", "float32": "float32", "float": "float32",
    "f64": "float64", "float64": "float64", "double": "float64",
    "c64": "complex64", "complex64": "complex64", "c128": "complex128", "complex128": "complex128",
}
_DEVICES = {"cpu", "cuda", "mps", "meta", "xpu"}


def resolve_dtype(symbol: str):
    """`:f32` -> torch.float32. Raises ValueError naming the symbol if it is not a dtype."""
    import torch

    name = _DTYPES.get(str(symbol))
    if name is None:
        raise ValueError(f"{symbol!r} is not a dtype symbol (known: {', '.join(sorted(_DTYPES))})")
    return getattr(torch, name)


def resolve_device(symbol: str):
    """`:cuda` -> torch.device("cuda"); `:cuda1` or "cuda:1" -> torch.device("cuda", 1)."""
    import torch

    text = str(symbol)
    base = text.rstrip("0123456789").rstrip(":")
    index = text[len(base):].lstrip(":")
    if base not in _DEVICES:
        raise ValueError(f"{symbol!r} is not a device symbol (known: {', '.join(sorted(_DEVICES))})")
    return torch.device(base, int(index)) if index else torch.device(base)


def resolve(value):
    """A dtype or device for a Symbol, anything else unchanged."""
    if not isinstance(value, Symbol):
        return value
    if str(value) in _DTYPES:
        return resolve_dtype(value)
    try:
        return resolve_device(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither a dtype symbol (known: {', '.join(sorted(_DTYPES))}) "
                         f"nor a device symbol (known: {', '.join(sorted(_DEVICES))})") from None
