"""Open state stays bounded: obligations without a deadline expire, idle signal groups are
dropped, facts may be retired by `retention:`; the summary names the rules holding the most."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from cli.main import main
from engine import Engine, load_playbook_text
from engine.explain import explain

BEFORE_ONLY = """
playbook: p
version: 1
rules:
  - id: disclose
    when: incident.opened
    expect: {type: incident.disclosed, same: [incident], before: {type: customer.ticket}}
    overlap: each
    expire: 2d
    actions:
      on_breach: [{do: escalate}]
      on_met: [{do: thank}]
"""


def ev(time: str, etype: str, **fields: Any) -> dict[str, Any]:
    return {"time": time, "type": etype, "account": fields.pop("account", "acme"), **fields}


def test_an_obligation_without_deadline_expires_after_expire_from_its_trigger() -> None:
    pb = load_playbook_text(BEFORE_ONLY)
    engine = Engine(pb)
    actions = engine.run([
        ev("2026-03-01T00:00:00Z", "incident.opened", incident="i1"),
        ev("2026-03-01T00:00:00Z", "incident.opened", incident="i2"),
        ev("2026-03-01T12:00:00Z", "incident.opened", incident="i3"),
        # i1: exactly at trigger + expire: still open (an instant fires once the clock passes it)
        ev("2026-03-03T00:00:00Z", "incident.disclosed", incident="i1"),
        # i2: one second later: dropped without an action
        ev("2026-03-03T00:00:01Z", "incident.disclosed", incident="i2"),
        ev("2026-03-03T00:00:01Z", "customer.ticket", incident="i2"),
    ], until="2026-03-03T06:00:00Z")
    assert [(a.outcome, a.subject) for a in actions] == [("met", {"incident": "i1"})]
    stats = engine.summary.rules["p/disclose"]
    assert stats.expired == 1 and stats.pending == 1  # i3 expires at 03-03T12:00
    engine2 = Engine(pb)
    engine2.run([ev("2026-03-01T12:00:00Z", "incident.opened", incident="i3")], until="2026-03-10T00:00:00Z")
    assert engine2.summary.rules["p/disclose"].expired == 1 and engine2.summary.rules["p/disclose"].pending == 0


def test_open_obligations_stay_bounded_by_expire() -> None:
    engine = Engine(load_playbook_text(BEFORE_ONLY))
    for day in range(60):
        for n in range(20):
            engine.feed(ev("unused", "incident.opened", incident=f"{day}-{n}") | {"time": 1767225600 + day * 86400 + n})
    engine.count_open()
    # about two days of triggers are open (expire: 2d), not sixty
    assert engine.summary.rules["p/disclose"].pending <= 3 * 20
    assert engine.summary.rules["p/disclose"].expired >= 57 * 20


def test_a_deadline_obligation_still_waits_expire_after_its_breach() -> None:
    pb = load_playbook_text(BEFORE_ONLY.replace("before: {type: customer.ticket}", "within: 1d"))
    actions = Engine(pb).run([
        ev("2026-03-01T00:00:00Z", "incident.opened", incident="i1"),
        ev("2026-03-03T23:00:00Z", "incident.disclosed", incident="i1"),  # after trigger + expire, before breach + expire
    ])
    assert [a.outcome for a in actions] == ["breach"] and Engine(pb).run([]) == []
    engine = Engine(pb)
    engine.run([ev("2026-03-01T00:00:00Z", "incident.opened", incident="i1"),
                ev("2026-03-03T23:00:00Z", "incident.disclosed", incident="i1")])
    assert engine.summary.outcomes["late"] == 1


def test_expiry_survives_a_snapshot() -> None:
    pb = load_playbook_text(BEFORE_ONLY)
    first = Engine(pb)
    first.run([ev("2026-03-01T00:00:00Z", "incident.opened", incident="i1")])
    second = Engine(pb)
    second.restore(json.loads(json.dumps(first.snapshot())))
    assert second.run([ev("2026-03-03T00:00:01Z", "incident.disclosed", incident="i1")]) == []
    assert second.summary.rules["p/disclose"].expired == 1


def test_explain_shows_the_expiry_of_an_obligation_without_deadline() -> None:
    pb = load_playbook_text(BEFORE_ONLY)
    x = explain(pb, [ev("2026-03-01T00:00:00Z", "incident.opened", incident="i1"),
                     ev("2026-03-04T00:00:00Z", "incident.disclosed", incident="i1")], "disclose")
    (unit,) = x.keys[0].units
    texts = [s.text for s in unit.steps]
    assert texts[1].startswith("expired: no deadline, and neither fulfilled nor preempted within expire 2d")
    assert "dropped without action" in unit.steps[0].extra[0]
    assert unit.status.startswith("expired")


def test_lint_warns_on_rules_that_accumulate_obligations(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BEFORE_ONLY.replace("expire: 2d", "expire: 400d"))
    result = CliRunner().invoke(main, ["validate", str(path)])
    lines = [line for line in result.stderr.splitlines() if "[open-state]" in line]
    assert lines[0].startswith(f"{path}:8:14: warning: overlap: each without within")
    assert lines[1].startswith(f"{path}:9:13: warning: expire 400d is over a year")
    assert len(lines) == 2


def test_the_summary_names_the_rules_with_the_most_open_state(tmp_path: Path) -> None:
    text = BEFORE_ONLY + """
  - id: hot
    when: signal
    cooldown: 1h
    group_by: [module]
    actions: {on_match: [{do: propose}]}
"""
    engine = Engine(load_playbook_text(text))
    engine.run([ev("2026-03-01T00:00:00Z", "incident.opened", incident=f"i{n}") for n in range(3)]
               + [ev("2026-03-01T00:10:00Z", "signal", module="m1")])
    assert engine.summary.most_open_state() == [
        {"rule": "p/disclose", "open": 3, "obligations": 3, "cadences": 0, "groups": 0},
        {"rule": "p/hot", "open": 1, "obligations": 0, "cadences": 0, "groups": 1},
    ]
    assert engine.summary.to_dict()["most_open_state"][0]["rule"] == "p/disclose"
    pb = tmp_path / "p.yaml"
    pb.write_text(text)
    events = tmp_path / "e.jsonl"
    events.write_text("".join(json.dumps(ev("2026-03-01T00:00:00Z", "incident.opened", incident=f"i{n}")) + "\n"
                              for n in range(3)))
    result = CliRunner().invoke(main, ["run", str(pb), "--events", str(events)])
    assert result.exit_code == 0, result.output
    assert "most open state: p/disclose 3 (3 obligations)" in result.stderr
