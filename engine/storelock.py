"""One writer per store: the lock a run or ingest takes on a store before writing it.

Light on purpose (no SQLite): the command line reads its default timeout at start-up."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from .errors import StateError, StoreBusy

DEFAULT_LOCK_TIMEOUT = 10.0  # seconds a second writer waits for the first (--lock-timeout)


def lock_path(path: str) -> str:
    """The writer lock file beside a store (``FILE.lock``), named from the store's real path:
    two names of one store (a symbolic link, ``./x.db`` and ``x.db``) take one lock."""
    return f"{os.path.realpath(path)}.lock"


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 4096, 0)
        holder = orjson.loads(data) if data else None
    except (OSError, orjson.JSONDecodeError):
        return None
    return holder if isinstance(holder, dict) else None


class WriterLock:
    """One writer per store: an exclusive ``flock`` on ``FILE.lock``, held from opening the
    store to closing it. The kernel releases it when its process ends in any way (SIGKILL,
    a crash), so a dead holder never blocks the next run. The file also keeps a record of
    the holder (pid, host, command, since) for the message of a run that finds it busy; a
    record whose lock is free (left by a killed run) is stale and simply overwritten. The
    file is removed when the lock is released; a waiter that locked a removed file opens
    the new one and tries again."""

    def __init__(self, path: str, timeout: float, on_wait: Callable[[dict[str, Any] | None], None] | None = None,
                 command: str | None = None):
        self.path = path
        self.name = lock_path(path)
        self.fd: int | None = None
        deadline = time.monotonic() + max(0.0, timeout)
        polls = 0
        try:
            while True:
                if self.fd is None:
                    self.fd = self._open()
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pass
                else:
                    if self._still_the_file():
                        break
                    os.close(self.fd)  # its holder removed it on release: take the new one
                    self.fd = None
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreBusy(path, timeout, _read_holder(self.fd))
                if on_wait is not None and polls >= 0:
                    holder = _read_holder(self.fd)  # empty for a moment while a holder starts
                    if holder is not None or polls >= 5:
                        on_wait(holder)
                        polls = -1  # said once
                if polls >= 0:
                    polls += 1
                time.sleep(min(0.05, left))
            if len(record_command := command or _command()) > 300:
                record_command = record_command[:297] + "..."
            record = {"pid": os.getpid(), "host": socket.gethostname(), "command": record_command,
                      "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}  # for people: not event time
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, orjson.dumps(record), 0)
        except BaseException:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            raise

    def _open(self) -> int:
        try:
            return os.open(self.name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot write the store's lock file {self.name} ({exc.strerror}): "
                             "check the folder's permissions") from None

    def _still_the_file(self) -> bool:
        """Is the locked file still the one at the lock's name? (A holder removes it on release.)"""
        assert self.fd is not None
        try:
            named = os.stat(self.name)
        except FileNotFoundError:
            return False
        mine = os.fstat(self.fd)
        return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)

    def release(self) -> None:
        """Remove the lock file (while still holding it) and release the lock: a finished run
        leaves nothing beside the store; one that was killed leaves a stale record."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.name)
        os.close(fd)  # releases the lock


def _command() -> str:
    argv = [os.path.basename(sys.argv[0]) if i == 0 else a for i, a in enumerate(sys.argv)] if sys.argv else []
    return " ".join(argv) or "python"
