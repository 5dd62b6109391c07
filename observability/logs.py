"""Log lines as JSON objects carrying the request id, with credentials scrubbed from every line."""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing.util
import os
import re
import threading
import time
import weakref
from collections import deque

import orjson

from . import requestid

# Fields a record may carry through ``extra=`` that belong in the JSON object.
FIELDS = ("method", "path", "route", "status", "duration_ms", "client", "user_agent")
_REDACTIONS = [
    # Credentials in an Authorization header value.
    (re.compile(r"(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 [redacted]"),
    # A JWT (header.payload.signature, base64url): access tokens, ID tokens, assertions.
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    # Credentials in a query string or form body.
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|id_token|token|client_secret|password|code|code_verifier"
            r"|assertion|client_assertion|registration_access_token|secret)=[^&\s\"']+"
        ),
        r"\1=[redacted]",
    ),
]


# Every pattern above needs one of these; most lines have none and skip the substitutions.
_SUSPECT = re.compile(r"=|eyJ|(?i:bearer|basic|dpop)\s")
_encode_stdlib = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _encode(entry: dict) -> str:
    """One log line: orjson (cheaper than the standard library), the standard library for what it
    refuses (lone surrogates in a message, say)."""
    try:
        return orjson.dumps(entry, default=str).decode()
    except TypeError:
        return _encode_stdlib(entry)


def redact(text: str) -> str:
    """Replace anything that looks like a token, a secret or a credential parameter."""
    if not _SUSPECT.search(text):
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _Clock:
    """ISO 8601 UTC timestamps with milliseconds; the seconds part is formatted once per second."""

    def __init__(self) -> None:
        self.cached = (-1, "")  # (second, its formatted prefix), replaced as one object

    def format(self, created: float) -> str:
        second = int(created)
        cached_second, prefix = self.cached
        if cached_second != second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.cached = (second, prefix)
        return f"{prefix}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and the known extra fields."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.clock.format(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or requestid.current()
        if request_id:
            entry["request_id"] = request_id
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return _encode(entry)


class TextFormatter(logging.Formatter):
    """The classic one-line format for local reading, with the request id and the same scrubbing."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", None) or requestid.current() or "-"
        return redact(super().format(record))


class OneLineWarning(logging.Filter):
    """Make a logger's records one WARNING line without a traceback: for refusals of bad client input
    (a foreign ``Host``, from DNS-rebinding probes and scanners) that Django logs as errors, which
    would bury real server errors and trip alerts."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


class BufferedStreamHandler(logging.StreamHandler):
    """A ``StreamHandler`` that writes its lines in batches, every ``interval`` seconds, from a thread.

    A write (and flush) per line would cost the request thread that logged it a system call and a GIL
    hand-off every time; the writer thread pays them once per batch instead. Lines are formatted at
    once, in the thread that logged them (the request id is read there), and kept in order. Written at
    once, after everything buffered before them: records at ``flush_level`` (WARNING) or above, records
    of a server error (a ``status`` of 500 or more, i.e. the access line of a 5xx), and every line once
    ``capacity`` are waiting (so a stream that blocks slows the loggers down as an unbuffered one would,
    rather than filling memory). ``flush()`` and ``close()`` (``logging.shutdown`` at exit, a
    multiprocessing worker's finalizers) write what is left; ``interval=0`` writes every line at once,
    as ``StreamHandler`` does. Like nginx's ``access_log ... flush=``: a process killed outright loses
    at most the last interval's informational lines.
    """

    def __init__(
        self, stream=None, interval: float = 0.1, capacity: int = 1000, flush_level: int = logging.WARNING
    ):
        super().__init__(stream)
        self.interval, self.capacity, self.flush_level = float(interval), int(capacity), flush_level
        self._lines: deque[str] = deque()  # appended by loggers, taken from the left by the writer
        self._write_lock = threading.Lock()  # taking the waiting lines and writing them: one writer at a time
        self._writer: threading.Thread | None = None
        self._closed = threading.Event()  # ends the writer thread; its wait is also the interval's
        _buffered.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + self.terminator)
            if (
                self.interval <= 0
                or record.levelno >= self.flush_level
                or (getattr(record, "status", None) or 0) >= 500
                or len(self._lines) >= self.capacity
            ):
                self._write()
            elif self._writer is None:
                self._start_writer()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self._write()

    def close(self) -> None:
        self._closed.set()
        try:
            self._write()
        finally:
            super().close()

    def _write(self) -> None:
        with self._write_lock:
            # Only the lines there now, from the left: loggers append without this lock (a deque's
            # append and popleft are atomic), and the lock keeps batches in the order they were taken.
            lines = self._lines
            waiting = len(lines)
            if waiting:
                self.stream.write("".join([lines.popleft() for _ in range(waiting)]))
            if hasattr(self.stream, "flush"):
                self.stream.flush()

    def _start_writer(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                return
            handler = weakref.ref(self)
            arguments = (handler, self.interval, self._closed)
            self._writer = threading.Thread(target=_write_every, args=arguments, name="log-out", daemon=True)
            self._writer.start()
        # A multiprocessing worker (granian's) leaves with os._exit, skipping atexit and so
        # logging.shutdown; its finalizers run first, the audit trail's (priority 10) before this one.
        multiprocessing.util.Finalize(self, _write_left, args=(handler,), exitpriority=0)

    def _after_fork_in_child(self) -> None:
        # The parent writes what it had buffered; its writer thread does not exist here.
        self._lines, self._writer, self._write_lock = deque(), None, threading.Lock()
        self._closed = threading.Event()


def _write_every(handler: weakref.ref, interval: float, closed: threading.Event) -> None:
    # An Event's wait rather than time.sleep: the interval holds even where a test replaces sleep.
    while not closed.wait(interval):
        live = handler()
        if live is None:
            return
        if live._lines:
            try:
                live._write()
            except Exception:  # reported as logging reports a failed emit (to stderr, once per failure)
                live.handleError(logging.makeLogRecord({"msg": "buffered log lines could not be written"}))
        del live


def _write_left(handler: weakref.ref) -> None:
    live = handler()
    if live is not None:
        with contextlib.suppress(Exception):  # exiting; the stream may already be closed
            live._write()


_buffered: weakref.WeakSet[BufferedStreamHandler] = weakref.WeakSet()


def _reset_buffers_after_fork() -> None:
    for handler in list(_buffered):
        handler._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_buffers_after_fork)
