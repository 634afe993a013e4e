"""The shipped playbook on the shipped sample log: byte-exact output.

The expected file was produced by the engine and checked against the outcome
table of examples/README.md (each row of it is asserted below). After an
intended change of behaviour, regenerate it with

    playbook run playbooks/us-retention.yaml --events examples/events.jsonl -q --out tests/golden/sample/expected.jsonl

and review the diff.
"""

from __future__ import annotations

import json
import random

from engine import Engine, load_playbook, read_events
from tests.conftest import ROOT

EXPECTED = ROOT / "tests" / "golden" / "sample" / "expected.jsonl"


def _run(events: list) -> str:
    playbook = load_playbook(str(ROOT / "playbooks" / "us-retention.yaml"))
    return "".join(a.to_json() + "\n" for a in Engine(playbook).run(events))


def test_sample_output_is_byte_exact() -> None:
    events = list(read_events(str(ROOT / "examples" / "events.jsonl")))
    assert _run(events) == EXPECTED.read_text()


def test_sample_output_does_not_depend_on_input_order() -> None:
    events = [e.data for e in read_events(str(ROOT / "examples" / "events.jsonl"))]
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    # Equal times must keep their relative order: restore it within each time.
    by_time: dict[str, list] = {}
    for e in events:
        by_time.setdefault(e["time"], []).append(e)
    queues = {t: iter(v) for t, v in by_time.items()}
    shuffled = [next(queues[e["time"]]) for e in shuffled]
    assert _run(shuffled) == EXPECTED.read_text()


def test_sample_covers_every_outcome_of_every_rule() -> None:
    produced = {(r["rule"], r["outcome"], r["reason"]) for r in map(json.loads, EXPECTED.read_text().splitlines())}
    for rule, outcome, reason in [
        ("ack-within-4h", "met", None), ("ack-within-4h", "breach", "deadline"), ("ack-within-4h", "late", None),
        ("qbr-every-90d", "due_soon", None), ("qbr-every-90d", "met", None),
        ("qbr-every-90d", "breach", "deadline"), ("qbr-every-90d", "late", None),
        ("disclose-before-notice", "met", None), ("disclose-before-notice", "breach", "deadline"),
        ("disclose-before-notice", "breach", "preempted"), ("disclose-before-notice", "late", None),
        ("propose-multilingual", "match", None), ("propose-onboarding", "match", None),
        ("ticket-first-response", "met", None), ("ticket-first-response", "breach", "deadline"),
        ("ticket-first-response", "progress", None),
        ("renewal-outreach", "due_soon", None), ("renewal-outreach", "breach", "deadline"),
        ("renewal-outreach", "breach", "preempted"), ("renewal-outreach", "late", None),
    ]:
        assert (rule, outcome, reason) in produced, (rule, outcome, reason)


def test_cli_on_a_shuffled_file_streams_the_same_bytes(tmp_path) -> None:
    """playbook run reads a plain JSONL file in two passes (time order, bounded memory): same output."""
    from click.testing import CliRunner

    from cli.main import main

    events = [e.data for e in read_events(str(ROOT / "examples" / "events.jsonl"))]
    by_time: dict[str, list] = {}
    for e in events:
        by_time.setdefault(e["time"], []).append(e)
    shuffled = events[:]
    random.Random(11).shuffle(shuffled)
    queues = {t: iter(v) for t, v in by_time.items()}
    shuffled = [next(queues[e["time"]]) for e in shuffled]
    path = tmp_path / "shuffled.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in shuffled) + "\n{broken\n")
    result = CliRunner().invoke(main, ["run", str(ROOT / "playbooks" / "us-retention.yaml"), "--events", str(path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == EXPECTED.read_text()
    assert f"{path}:402: invalid JSON" in result.stderr
