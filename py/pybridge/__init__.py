"""pybridge's Python side: helpers the C++ host imports inside the embedded interpreter.

Nothing here needs the C++ side; every helper also works in a plain Python process,
which is how the tests compare bridged results with pure-Python ones.
"""

from .symbols import Symbol, resolve, resolve_device, resolve_dtype

try:  # present inside a pybridge host: the types its C++ side raises
    from ._native import CallInterrupted, HostError
except ImportError:  # plain Python: stand-ins, so `except pybridge.HostError` still parses
    class CallInterrupted(BaseException):
        """Raised into a call that the host cancelled or whose deadline passed."""

    class HostError(Exception):
        """A C++ exception thrown by a host function, on its way through Python."""

__version__ = "0.1.0"
__all__ = ["CallInterrupted", "HostError", "Symbol", "resolve", "resolve_device", "resolve_dtype"]
