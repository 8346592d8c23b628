"""pybridge's Python side: helpers the C++ host imports inside the embedded interpreter.

Nothing here needs the C++ side; every helper also works in a plain Python process,
which is how the tests compare bridged results with pure-Python ones.
"""

from .symbols import Symbol, resolve, resolve_device, resolve_dtype

__version__ = "0.1.0"
__all__ = ["Symbol", "resolve", "resolve_device", "resolve_dtype"]
