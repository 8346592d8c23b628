"""pybridge.symbols: Simple's `:f32` / `:cuda` symbols resolved to torch dtypes and devices."""
import pytest
import torch

from pybridge.symbols import Symbol, resolve, resolve_device, resolve_dtype


def test_dtype_and_device_symbols_resolve_to_torch_objects():
    assert resolve(Symbol("f32")) is torch.float32
    assert resolve(Symbol("bf16")) is torch.bfloat16
    assert resolve(Symbol("c128")) is torch.complex128
    assert resolve(Symbol("cpu")) == torch.device("cpu")
    assert resolve(Symbol("cuda1")) == torch.device("cuda", 1)
    assert resolve_device("cuda:2") == torch.device("cuda", 2)
    assert resolve("f32") == "f32"  # a plain str is not a symbol: unchanged
    assert repr(Symbol("f32")) == "Symbol('f32')" and Symbol("f32") == "f32"


def test_unknown_symbols_name_what_was_expected():
    with pytest.raises(ValueError) as e:
        resolve(Symbol("f99"))
    assert str(e.value).startswith("Symbol('f99') is neither a dtype symbol (known: ")
    assert "f32" in str(e.value) and "nor a device symbol (known: cpu, cuda, meta, mps, xpu)" in str(e.value)
    with pytest.raises(ValueError, match=r"^'f99' is not a dtype symbol"):
        resolve_dtype("f99")
    with pytest.raises(ValueError, match=r"^'f32' is not a device symbol"):
        resolve_device("f32")
