"""pybridge's Python side: helpers the C++ host imports inside the embedded interpreter.

Nothing here needs the C++ side; every helper also works in a plain Python process,
which is how the tests compare bridged results with pure-Python ones.
"""

__version__ = "0.1.0"
