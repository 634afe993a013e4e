"""Reading a JSON Lines file in time order: the fast order check must never change what is read.

``time_ordered`` first checks whether a file is already in time order, finding
most times as text without parsing lines. These tests hold it against the
plain reading (every line parsed) on logs made to trip it: times nested under
other keys, the field name spelled with escapes or inside other strings,
duplicate keys, numbers, offsets, invalid times and JSON, a byte-order mark.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.sources.readers as sources
from engine import Engine
from engine.sources import time_ordered
from tests.test_properties import PLAYBOOKS

ENGINE = Engine(PLAYBOOKS)
READER = ENGINE._single_reader()

BASE_TEXT = "2026-03-02T14:{:02d}:{:02d}Z"


def _time(i: int) -> str:
    return BASE_TEXT.format(i // 60 % 60, i % 60)


# Lines as text: most are plain events, some are made to mislead a reader that does not parse.
plain_line = st.integers(0, 400).map(lambda i: json.dumps({"type": "ask", "time": _time(i), "account": "a", "n": i}))
tricky_line = st.one_of(
    # the only "time" is nested: the event has no time of its own
    st.integers(0, 400).map(lambda i: json.dumps({"type": "ask", "account": "a", "meta": {"time": _time(i)}})),
    # the top-level key spelled with an escape, and a decoy
    st.tuples(st.integers(0, 400), st.integers(0, 400)).map(
        lambda p: '{"type": "ask", "\\u0074ime": "' + _time(p[0]) + '", "x": {"time": "' + _time(p[1]) + '"}}'),
    # a key that ends in an escaped quote and "time"
    st.tuples(st.integers(0, 400), st.integers(0, 400)).map(
        lambda p: '{"x\\"time": "' + _time(p[0]) + '", "type": "ask", "time": "' + _time(p[1]) + '"}'),
    # duplicate keys (the last one counts)
    st.tuples(st.integers(0, 400), st.integers(0, 400)).map(
        lambda p: '{"type": "ask", "time": "' + _time(p[0]) + '", "time": "' + _time(p[1]) + '"}'),
    # other ways to give a time
    st.integers(0, 400).map(lambda i: json.dumps({"type": "ask", "time": 1772460000 + i})),
    st.integers(0, 400).map(lambda i: json.dumps({"type": "ask", "time": _time(i)[:-1] + "-05:00"})),
    st.sampled_from(['{"type": "ask", "time": "2026-13-02T14:00:00Z"}', '{"type": "ask", "time": "2026-03-02T14:00:60Z"}',
                     '{"type": "ask", "time": "soon"}', '{"type": "ask", "time": "time"}', '{"type": "ask"}']),
    # a lone CR (JSON whitespace) between the key and its value
    st.integers(0, 400).map(lambda i: '{"type": "ask", "time":\r"' + _time(i) + '", "account": "a"}'),
    st.integers(0, 400).map(lambda i: '{"type": "ask", "time"\r: "' + _time(i) + '", "account": "a"}'),
    # an escaped ASCII character sends its chunk to the line-by-line check
    st.just('{"type": "noise", "x": "\\u0041"}'),
    # "time" as a value, in text, and not JSON at all
    st.sampled_from(['{"type": "time", "time": "2026-03-02T13:00:00Z"}', '{"type": "ask", "note": "the time is \\"now\\""}',
                     'not json "time": "2026-03-02T12:00:00Z"', "", "[1, 2]", '{"type": "ask", "time": "2026-03-02T11:00:00Z"']),
    st.integers(0, 400).map(lambda i: "\ufeff" + json.dumps({"type": "ask", "time": _time(i)})),
)
logs = st.lists(st.one_of(plain_line, plain_line, plain_line, tricky_line), max_size=30)


def _read(path: Path, fast: bool) -> list[tuple[Any, Any, Any]]:
    if fast:
        events = time_ordered(str(path), READER.time_of, field=READER.time_field, parse_text=READER.time_of_text)
    else:
        events = time_ordered(str(path), READER.time_of)
    return [(e.source, e.data, e.error) for e in events]


def _valid(read: list[tuple[Any, Any, Any]]) -> list[tuple[Any, Any]]:
    """The events the engine processes, in order, with the time it reads for each."""
    out = []
    for source, data, error in read:
        if error is None and READER.time_of(data) is not None:
            out.append((source, READER.time_of(data)))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=logs, sort=st.booleans(), chunk=st.sampled_from([64, 256, 1 << 22]))
def test_the_fast_order_check_reads_what_parsing_every_line_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], sort: bool, chunk: int) -> None:
    if sort:  # mostly ordered logs, so that the in-order path is taken often
        lines = sorted(lines, key=lambda line: line.split('"time": "')[-1])
    path = tmp_path / "e.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    monkeypatch.setattr(sources, "_CHUNK", chunk)  # order checks across chunk borders
    fast, slow = _read(path, True), _read(path, False)
    # The same events, in the same stable time order, with the same times: as if every line were parsed.
    assert _valid(fast) == _valid(slow) == _reference(path)
    times = [t for _, t in _valid(fast)]
    assert times == sorted(times)
    # The others are there too, for the engine to report as skipped.
    assert sorted(_skipped(fast)) == sorted(_skipped(slow))
    assert len(fast) == len(slow)


def _reference(path: Path) -> list[tuple[str, int]]:
    """Every line (split at newlines only, as the reader does) parsed, then sorted stably by time."""
    events = []
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        try:
            data = sources.parse_json_line(raw)
        except ValueError:
            continue
        t = READER.time_of(data)
        if t is not None:
            events.append((f"{path}:{lineno}", t))
    return sorted(events, key=lambda e: e[1])


def _skipped(read: list[tuple[Any, Any, Any]]) -> list[str]:
    return [source for source, data, error in read if error is not None or READER.time_of(data) is None]


def test_an_ordered_file_is_read_in_place_keeping_nothing_per_event(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"type": "ask", "time": "2026-03-02T14:00:00Z", "account": "a"}\n'
        "oops\n"
        '{"type": "ask", "time": "2026-03-02T14:00:00Z", "account": "b"}\n'
        '{"type": "ask", "time": "2026-03-02T15:00:00Z", "account": "c"}\n'
    )
    got = list(time_ordered(str(path), READER.time_of, field="time", parse_text=READER.time_of_text))
    # In order already: invalid lines stay where they are.
    assert [(e.source, e.error is not None) for e in got] == [
        (f"{path}:1", False), (f"{path}:2", True), (f"{path}:3", False), (f"{path}:4", False)]
