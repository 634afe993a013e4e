"""Writers of action records: JSON Lines, CSV and a human-readable table.

Event data may hold lone surrogates (``"\\udfff"`` is valid JSON but not Unicode text,
and no UTF-8 stream can write it). JSON Lines writes them as JSON escapes; CSV and
the table write each as the same six characters (``\\udfff``, as Python's
``backslashreplace`` would), so any stream or file can take the output.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from typing import IO, Any

from .actions import Action

FORMATS = ("jsonl", "csv", "table")

CSV_COLUMNS = (
    "id", "playbook", "rule", "outcome", "reason", "do", "at", "key", "subject", "deadline",
    "trigger_id", "trigger_type", "trigger_time", "event_id", "event_type", "event_time", "params",
    "stage", "paused_for",
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """``text`` with every surrogate code point (never valid in UTF-8) written as its
    escape ``\\udXXX``; text without one is returned as it is."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


#: Widest the table's PARAMS column is, unless ``wide``.
TABLE_PARAMS_WIDTH = 80


def write_actions(actions: Iterable[Action], out: IO[str], fmt: str = "jsonl", *, wide: bool = False,
                  notes: list[str] | None = None) -> int:
    """Write actions in ``fmt``; returns how many were written.

    ``wide`` (table only): show every parameter whole instead of cutting the PARAMS
    column at ``TABLE_PARAMS_WIDTH`` characters with "…". ``notes``, when given, gets
    a line for the user (not part of the output) when parameters were cut.
    """
    if fmt == "jsonl":
        n = 0
        for action in actions:
            out.write(action.to_json())
            out.write("\n")
            n += 1
        return n
    if fmt == "csv":
        return _write_csv(actions, out)
    if fmt == "table":
        return _write_table(list(actions), out, wide, notes)
    raise ValueError(f"unknown output format {fmt!r}")


def _compact(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _csv_row(action: Action) -> list[str]:
    rec = action.record()
    trig = rec["trigger"] or {}
    ev = rec["event"] or {}
    return [
        rec["id"], rec["playbook"], rec["rule"], rec["outcome"], rec["reason"] or "", rec["do"], rec["at"],
        _compact(rec["key"]), _compact(rec["subject"]), rec["deadline"] or "",
        trig.get("id", ""), trig.get("type", ""), trig.get("time", ""),
        ev.get("id", ""), ev.get("type", ""), ev.get("time", ""), _compact(rec["params"]),
        action.stage or "", _compact(action.paused_for),
    ]


def _write_csv(actions: Iterable[Action], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    n = 0
    for action in actions:
        writer.writerow([safe_text(cell) for cell in _csv_row(action)])
        n += 1
    return n


def _write_table(actions: list[Action], out: IO[str], wide: bool = False, notes: list[str] | None = None) -> int:
    headers = ("at", "rule", "outcome", "key", "subject", "do", "params")
    rows = []
    cut = 0
    for a in actions:
        rec = a.record()
        outcome = a.outcome + (f" ({a.reason})" if a.reason else "") + (f" ({a.stage})" if a.stage else "")
        params = _compact(a.params) if a.params else ""
        if not wide and len(params) > TABLE_PARAMS_WIDTH:
            params = _shorten(params, TABLE_PARAMS_WIDTH)
            cut += 1
        rows.append(tuple(safe_text(cell) for cell in (
            rec["at"], f"{a.playbook}/{a.rule}", outcome, _compact(a.key),
            _compact(a.subject) if a.subject else "", a.do, params,
        )))
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    out.write("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    if cut and notes is not None:
        notes.append(f"note: the parameters of {cut} action{'s' if cut != 1 else ''} were cut at "
                     f"{TABLE_PARAMS_WIDTH} characters with '…'; --wide shows them whole")
    return len(rows)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
