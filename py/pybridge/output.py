"""Python's output, routed for a pybridge host (gil/output.cpp installs this at start).

Without a host sink, sys.stdout and sys.stderr write into the host's C `stdout` / `stderr`
(one buffer shared with the host's printf: output keeps the order it was written in). With
a sink, stdout/stderr text, `logging` records and `warnings` go to the host's callback, with
a level and a name. `write` is the host's function: write(source, level, name, text) with
source 0 stdout, 1 stderr, 2 logging, 3 warnings; flush(source) flushes the C stream.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import warnings

STDOUT, STDERR, LOGGING, WARNINGS = 0, 1, 2, 3
_LEVELS = {STDOUT: logging.INFO, STDERR: logging.ERROR}


class HostStream(io.TextIOBase):
    """A text stream whose writes go to the host: to its C stdio stream, or to its sink
    (then whole lines, a progress bar's "\\r..." redraw, or what a flush finds)."""

    def __init__(self, source: int, fd: int, write, flush, to_sink: bool):
        super().__init__()
        self._source, self._fd, self._write, self._flush = source, fd, write, flush
        self._to_sink, self._pending = to_sink, []
        self.name = "<stdout>" if source == STDOUT else "<stderr>"

    encoding = "utf-8"
    errors = "backslashreplace"
    line_buffering = True

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        try:
            return os.isatty(self._fd)
        except OSError:
            return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not self._to_sink:
            self._write(self._source, _LEVELS[self._source], "", text)
            return len(text)
        # A chunk ends with a '\n' (kept), or before a '\r' (which starts the next one:
        # progress bars redraw with "\r<bar>" and a flush).
        start = 0
        for i, ch in enumerate(text):
            if ch == "\n":
                self._pending.append(text[start : i + 1])
                self._emit()
                start = i + 1
            elif ch == "\r":
                self._pending.append(text[start:i])
                self._emit()
                start = i
        if start < len(text):
            self._pending.append(text[start:])
        return len(text)

    def _emit(self) -> None:
        chunk, self._pending = "".join(self._pending), []
        if chunk:
            self._write(self._source, _LEVELS[self._source], "", chunk)

    def flush(self) -> None:
        if self._to_sink:
            self._emit()
        else:
            self._flush(self._source)


class HostLogHandler(logging.Handler):
    """Sends each logging record to the host sink: level, logger name, message (with the
    formatted exception, if any)."""

    def __init__(self, write):
        super().__init__(logging.NOTSET)
        self._host_write = write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self._host_write(LOGGING, record.levelno, record.name, text)
        except Exception:
            self.handleError(record)


def install(write, flush, to_sink: bool) -> None:
    """Replaces sys.stdout/sys.stderr (and with a sink, hooks logging and warnings)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
    sys.stdout = HostStream(STDOUT, 1, write, flush, to_sink)
    sys.stderr = HostStream(STDERR, 2, write, flush, to_sink)
    if not to_sink:
        return
    logging.getLogger().addHandler(HostLogHandler(write))

    def showwarning(message, category, filename, lineno, file=None, line=None):
        text = warnings.formatwarning(message, category, filename, lineno, line).rstrip("\n")
        write(WARNINGS, logging.WARNING, category.__name__, text)

    warnings.showwarning = showwarning
