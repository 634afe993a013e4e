"""Open state stays bounded: obligations without a deadline expire, idle signal groups are
dropped, facts may be retired by `retention:`; the summary names the rules holding the most."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from engine import Engine, load_playbook_text
from engine.explain import explain
from engine.runtime.signal import SignalRuntime

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


# -- signal groups: dropped once nothing in them can matter -------------------------------------------

T0 = 1767225600  # 2026-01-01T00:00:00Z


def signal_playbook(cooldown: int | None, threshold: tuple[int, int] | None) -> str:
    lines = ["playbook: s", "version: 1", "rules:", "  - id: sig", "    when: hit", "    group_by: [g]"]
    if cooldown is not None:
        lines.append(f"    cooldown: {cooldown}s")
    if threshold is not None:
        lines.append(f"    threshold: {{count: {threshold[0]}, within: {threshold[1]}s}}")
    lines.append("    actions: {on_match: [{do: fire}]}")
    return "\n".join(lines) + "\n"


def groups_held(engine: Engine) -> int:
    return sum(len(rt.groups) for run in engine._runs for rt in run.runtimes if isinstance(rt, SignalRuntime))


def records(actions: list[Any]) -> list[dict[str, Any]]:
    return [a.record() for a in actions]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cooldown=st.none() | st.integers(1, 50),
    threshold=st.none() | st.tuples(st.integers(1, 4), st.integers(0, 50)),
    events=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["a", "b"]), st.integers(0, 3)), max_size=60),
    split=st.integers(0, 60),
)
def test_dropping_idle_groups_changes_no_action(cooldown: int | None, threshold: tuple[int, int] | None,
                                                events: list[tuple[int, str, int]], split: int) -> None:
    pb = load_playbook_text(signal_playbook(cooldown, threshold))
    log, t = [], T0
    for n, (gap, account, g) in enumerate(events):
        t += gap
        log.append({"id": f"e{n}", "time": t, "type": "hit", "account": account, "g": g})
    end = t + 100
    SignalRuntime.evict = False
    try:
        keep = Engine(pb)
        expected = records(keep.run(log, until=end))
    finally:
        SignalRuntime.evict = True
    evict = Engine(pb)
    assert records(evict.run(log, until=end)) == expected
    assert groups_held(evict) <= groups_held(keep)
    assert groups_held(evict) == 0  # the clock is past every cooldown and window
    # the same through a snapshot taken anywhere in the stream
    first = Engine(pb)
    out = [a for e in log[:split] for a in first.feed(e)]
    second = Engine(pb)
    second.restore(json.loads(json.dumps(first.snapshot())))
    out += [a for e in log[split:] for a in second.feed(e)] + second.advance(end)
    assert sorted(records(out), key=json.dumps) == sorted(expected, key=json.dumps)


def test_many_distinct_groups_do_not_accumulate() -> None:
    pb = load_playbook_text(signal_playbook(3600, None))
    engine = Engine(pb)
    fired = 0
    for n in range(5000):
        fired += len(engine.feed({"time": T0 + n * 60, "type": "hit", "account": "a", "g": n}))
    assert fired == 5000
    assert groups_held(engine) <= 61  # one hour of groups, not all 5000
    engine.count_open()
    assert engine.summary.rules["s/sig"].groups == groups_held(engine)
    assert len(json.dumps(engine.snapshot())) < 61 * 200


# -- facts: retention (opt-in) ----------------------------------------------------------------------

RETAINED = """
playbook: r
version: 1
retention: {facts: 10d}
facts:
  csm: {from: account.updated, value: csm}
rules:
  - id: hello
    when: ping
    actions: {on_match: [{do: greet, csm: "{{ facts.csm }}"}]}
"""


def test_facts_of_a_key_without_events_for_the_retention_are_dropped() -> None:
    def run(text: str, gap_days: int) -> list[Any]:
        return [a.params["csm"] for a in Engine(load_playbook_text(text)).run([
            {"time": T0, "type": "account.updated", "account": "a", "csm": "dana"},
            {"time": T0 + 5 * 86400, "type": "ping", "account": "a"},            # keeps the key alive
            {"time": T0 + (5 + gap_days) * 86400, "type": "ping", "account": "a"},
        ])]
    assert run(RETAINED, 10) == ["dana", "dana"]    # exactly the retention after the last event: kept
    assert run(RETAINED, 11) == ["dana", None]      # longer: the facts are gone
    assert run(RETAINED.replace("retention: {facts: 10d}\n", ""), 400) == ["dana", "dana"]  # no retention: kept


def test_retention_is_kept_through_a_snapshot_and_bounds_the_keys() -> None:
    pb = load_playbook_text(RETAINED)
    first = Engine(pb)
    for n in range(100):
        first.feed({"time": T0 + n * 86400, "type": "account.updated", "account": f"k{n}", "csm": "x"})
    run = first._runs[0]
    assert len(run.ctx.facts.values) <= 11 and len(run.ctx.facts.seen) <= 11
    saved = json.loads(json.dumps(first.snapshot()))
    second = Engine(pb)
    second.restore(saved)
    assert second.feed({"time": T0 + 99 * 86400, "type": "ping", "account": "k90"})[0].params["csm"] == "x"
    assert second.feed({"time": T0 + 101 * 86400 + 1, "type": "ping", "account": "k91"})[0].params["csm"] is None
    assert second.feed({"time": T0 + 101 * 86400 + 1, "type": "ping", "account": "k99"})[0].params["csm"] == "x"
    # state saved without retention: its keys count from the restored clock
    plain = Engine(load_playbook_text(RETAINED.replace("retention: {facts: 10d}\n", "")))
    plain.feed({"time": T0, "type": "account.updated", "account": "a", "csm": "x"})
    plain.feed({"time": T0 + 20 * 86400, "type": "ping", "account": "b"})
    third = Engine(pb)
    assert third.restore(json.loads(json.dumps(plain.snapshot()))) == []  # adding retention keeps the state
    assert third.feed({"time": T0 + 30 * 86400, "type": "ping", "account": "a"})[0].params["csm"] == "x"
    assert third.feed({"time": T0 + 30 * 86400 + 1, "type": "ping", "account": "a"})[0].params["csm"] == "x"
    assert third.feed({"time": T0 + 41 * 86400, "type": "ping", "account": "a"})[0].params["csm"] is None


def test_retention_must_be_a_duration(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(RETAINED.replace("{facts: 10d}", "{facts: forever}"))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1 and f"{path}:4:20:" in result.output, result.output
    path.write_text(RETAINED.replace("{facts: 10d}", "{facts: 0s}"))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1 and f"{path}:4:20: retention: facts must be longer than 0s" in result.output, result.output


def test_without_an_expire_written_an_obligation_without_deadline_is_kept_as_in_version_1(tmp_path: Path) -> None:
    """Language version 1 keeps an obligation with only `before` until it is fulfilled or
    preempted: the expiry applies only where the rule writes `expire` (a default would
    change a valid playbook's actions), and lint says that such a rule's state can grow."""
    text = BEFORE_ONLY.replace("    overlap: each\n    expire: 2d\n", "")
    events = [ev("2026-01-01T00:00:00Z", "incident.opened", incident="x"),
              ev("2026-01-01T00:00:00Z", "incident.opened", incident="y", account="b"),
              ev("2026-02-15T00:00:00Z", "incident.disclosed", incident="x"),
              ev("2026-02-15T00:00:00Z", "customer.ticket", incident="y", account="b")]
    actions = Engine(load_playbook_text(text)).run(events)
    assert [(a.outcome, a.reason, a.key) for a in actions] == [("met", None, "acme"), ("breach", "preempted", "b")]
    written = Engine(load_playbook_text(text.replace("    actions:", "    expire: 30d\n    actions:")))
    assert written.run(events) == [] and written.summary.rules["p/disclose"].expired == 2
    path = tmp_path / "p.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert f"{path}:7:5: warning: without within, an obligation has no deadline" in result.stderr, result.stderr
