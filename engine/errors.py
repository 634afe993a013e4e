"""Errors raised by the engine.

Every error a user can cause is an :class:`EngineError`. Playbook errors carry
one :class:`Diagnostic` per problem, each with the file, line and column where
it was found, so that callers can print them all as ``FILE:LINE:COL: message``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem found in a playbook (or another user file), with its place.

    ``line`` and ``col`` are 1-based; 0 means "unknown" (the whole file).
    """

    file: str
    line: int
    col: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}: {self.message}"
        return f"{self.file}: {self.message}"


class EngineError(Exception):
    """The root of every error the engine raises on purpose."""

    def __reduce__(self):  # keep subclasses picklable with their own arguments
        return (self.__class__, self.args)


class PlaybookError(EngineError):
    """A playbook (or test file) is invalid; ``diagnostics`` lists every problem."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]):
        self.diagnostics = tuple(sorted(set(diagnostics)))  # one problem met twice (a merged value) is said once
        super().__init__(self.diagnostics)

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


class EventError(EngineError):
    """An event is invalid and the run is strict (``--strict``)."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(source, reason)

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}" if self.source else self.reason


class UsageError(EngineError):
    """A call was made with arguments that cannot work (an unparseable ``until``...)."""


class StateError(EngineError):
    """Saved state cannot be used: a changed playbook, a foreign or damaged store."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class StoreBusy(StateError):
    """A store is being written by another process (its writer lock is held) and stayed
    so for the whole lock timeout. ``holder`` is what that process recorded: ``pid``,
    ``host``, ``command`` and ``since`` (UTC), each None when unknown."""

    def __init__(self, path: str, timeout: float, holder: dict[str, object] | None = None):
        self.path = path
        self.timeout = timeout
        self.holder = dict(holder or {})
        super().__init__(self._text())

    def __reduce__(self):
        return (self.__class__, (self.path, self.timeout, self.holder))

    def _text(self) -> str:
        h = self.holder
        if h.get("pid") is not None:
            who = (f"pid {h.get('pid')} on {h.get('host') or '?'}, since {h.get('since') or '?'}: "
                   f"{h.get('command') or '?'}")
        else:
            who = "another process (it has not said which yet)"
        return (f"{self.path}: the store is in use by {who}; waited {self.timeout:g} s (--lock-timeout). "
                "One run writes a store at a time: run again once it has finished, or give a longer --lock-timeout")
