"""Inputs found in review to break the engine: each now gives a result or a clear error, never a traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import PlaybookError, load_playbook_text

PLAYBOOK = """playbook: p
version: 1
facts: {n: {from: m, value: 1, collect: count}}
rules:
  - id: ack
    when: customer.message
    expect: {type: vendor.reply, same: [thread_id], within: 4h}
    actions: {on_met: [{do: ok}]}
  - id: sig
    when: m
    actions: {on_match: [{do: x, n: "{{ facts.n }}", note: "{{ note }}", big: "{{ n }}"}]}
"""


@pytest.fixture
def pb(tmp_path: Path) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(PLAYBOOK)
    return str(path)


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), input=input)


HOSTILE = [
    '{"type":"customer.message","time":"2026-03-02T14:00:00Z","account":"a","thread_id":"t1"}',
    '{"type":"vendor.reply","time":"2026-03-02T15:00:00Z","account":"a","thread_id":"t1"}',
    '{"type":"other","time":"2026-03-09T00:00:00Z","account":"a","score":NaN}',
    '{"type":"m","time":"2026-01-01T00:00:00Z","account":"a","n":' + "1" * 400 + "}",
    '{"type":"m","time":"2026-01-01T00:00:00Z","account":"a","note":"\\ud800"}',
    '{"type":"m","time":"2026-01-01T00:00:00Z","account":12345678901234567890123}',
    '{"type":"m","time":"2026-01-01T00:00:00Z","account":12345678901234567890124}',
    '{"type":"m","time":"2026-01-01T00:00:00Z","account":"a","d":' + "[" * 300 + "]" * 300 + "}",
    '{"type":"m","time":"0001-01-01T00:00:00+01:00","account":"a"}',
]


def test_hostile_events_from_a_file_and_stdin_agree(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("\ufeff" + "\n".join(HOSTILE) + "\n")
    from_file = run("run", pb, "--events", str(path))
    from_stdin = run("run", pb, "--events", "-", input="\n".join(HOSTILE) + "\n")
    assert from_file.exit_code == 0 and from_stdin.exit_code == 0, from_file.stderr
    assert from_file.stdout == from_stdin.stdout
    records = [json.loads(line) for line in from_file.stdout.splitlines()]
    assert ("ack", "met") in [(r["rule"], r["outcome"]) for r in records]  # the NaN line does not hide it
    keys = [r["key"] for r in records if r["rule"] == "sig"]
    assert 12345678901234567890123 in keys and 12345678901234567890124 in keys  # not merged into one float
    assert "out of the supported range" in from_file.stderr


def test_csv_with_a_bom_and_a_long_number(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("\ufefftype,time,account,order\nm,2026-01-01T00:00:00Z,a,12345678901234567890123\n")
    r = run("run", pb, "--events", str(path))
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 1, r.stderr


def test_damaged_gzip_is_a_usage_error(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    r = run("run", pb, "--events", str(path))
    assert r.exit_code == 2 and "cannot read" in r.stderr
    whole = gzip.compress(b"{}\n" * 10_000)
    path.write_bytes(whole[: len(whole) // 2])
    assert run("run", pb, "--events", str(path)).exit_code == 2


def test_until_as_epoch_seconds_text(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(HOSTILE[0] + "\n")
    assert run("run", pb, "--events", str(path), "--until", "1772467200").exit_code == 0
    assert run("run", pb, "--events", str(path), "--until", "99999999999999").exit_code == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("within: 999999999d", "too long"),
        ("within: " + "9" * 300 + "d", "too long"),
    ],
)
def test_absurd_durations_are_validation_errors(text: str, message: str) -> None:
    src = PLAYBOOK.replace("within: 4h", text)
    with pytest.raises(PlaybookError, match=message):
        load_playbook_text(src)


def test_durations_in_any_unit_order() -> None:
    pb = load_playbook_text(PLAYBOOK.replace("within: 4h", "within: 30m1h"))
    assert pb.rules[0].within is not None and pb.rules[0].within.exact_us == 5400 * 10**6


def test_errors_in_a_rule_without_id_are_still_reported() -> None:
    src = PLAYBOOK.replace("  - id: sig\n", "  - description: no id\n").replace("{{ n }}", "{{ bar( }}")
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(src)
    assert any("invalid expression" in d.message for d in info.value.diagnostics)


def test_a_big_string_alias_bomb_is_refused() -> None:
    big = "x" * 100_000
    text = f"a: &a {big}\nb: &b [{', '.join(['*a'] * 400)}]\nc: [{', '.join(['*b'] * 400)}]\n"
    with pytest.raises(PlaybookError, match="alias bomb"):
        load_playbook_text(text)


def test_a_reminder_longer_than_a_business_period_is_refused() -> None:
    src = """playbook: c
version: 1
calendars: {b: {timezone: UTC, hours: {mon-fri: "09:00-17:00"}}}
rules:
  - {id: r, every: 1d, remind_before: 10h, calendar: b, start: s, expect: e, actions: {on_due_soon: [{do: x}]}}
"""
    with pytest.raises(PlaybookError, match="in working time"):
        load_playbook_text(src)
    load_playbook_text(src.replace("10h", "7h"))
