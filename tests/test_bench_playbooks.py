"""The rule-scaling benchmark's playbooks stay valid, fair and alive.

``benchmarks/rules_scaling.py`` compares ``benchmarks/playbooks/rules-40.yaml`` with
``rules-4.yaml`` over a log of ``benchmarks/generate.py --extra-types``. A benchmark of rules
that never fire, or of a 4-rule baseline that drifted from the 40, would prove nothing: here
both pass ``validate --strict-lint``, the 4 rules are the first 4 of the 40, and on a small
generated log every rule of both produces at least one action.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml

from engine import Engine, load_playbook, read_events
from tests.conftest import ROOT

BENCH = ROOT / "benchmarks"
PLAYBOOKS = {4: BENCH / "playbooks" / "rules-4.yaml", 40: BENCH / "playbooks" / "rules-40.yaml"}
EVENTS = 20_000


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "events.jsonl"
    subprocess.run(
        [sys.executable, str(BENCH / "generate.py"), "--events", str(EVENTS), "--accounts", "200", "--seed", "1",
         "--extra-types", "--out", str(path)],
        check=True, capture_output=True, timeout=300,
    )
    return path


def test_the_log_has_twenty_event_types(log: Path) -> None:
    types = Counter(orjson.loads(line)["type"] for line in log.read_bytes().splitlines())
    assert sum(types.values()) == EVENTS
    assert len(types) == 20
    assert {"invoice.issued", "ticket.resolved", "nps.response", "onboarding.completed"} <= set(types)


def test_the_playbooks_pass_strict_validation() -> None:
    proc = subprocess.run([sys.executable, "-m", "cli.main", "validate", "--strict-lint", *map(str, PLAYBOOKS.values())],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in proc.stdout + proc.stderr
    assert "rules-4.yaml: ok (4 rules)" in proc.stdout
    assert "rules-40.yaml: ok (40 rules)" in proc.stdout


def test_the_four_rules_are_the_first_four_of_the_forty() -> None:
    four, forty = (yaml.safe_load(p.read_text(encoding="utf-8")) for p in PLAYBOOKS.values())
    assert four["rules"] == forty["rules"][:4]
    assert four["events"] == forty["events"]
    assert four["calendars"] == forty["calendars"]
    assert len(forty["events"]) == 20


def test_the_forty_rules_are_of_mixed_kinds() -> None:
    rules = load_playbook(str(PLAYBOOKS[40])).rules
    kinds = Counter(r.kind for r in rules)
    assert len(rules) == 40 and min(kinds.values()) >= 5, kinds
    assert any(r.kind == "response" and r.calendar is not None for r in rules)
    assert any(r.kind == "response" and r.calendar is None for r in rules)
    assert any(r.kind == "response" and r.before is not None for r in rules)
    assert any(r.kind == "signal" and r.threshold_count and r.group_by and r.cooldown_us for r in rules)


@pytest.mark.parametrize("n", sorted(PLAYBOOKS))
def test_every_rule_fires_on_a_generated_log(n: int, log: Path) -> None:
    playbook = load_playbook(str(PLAYBOOKS[n]))
    actions = Engine(playbook).run(read_events(str(log)))
    by_rule = Counter(a.rule for a in actions)
    silent = [r.id for r in playbook.rules if by_rule[r.id] == 0]
    assert not silent, f"rules without any action on the generated log: {silent}"
    outcomes = {a.outcome for a in actions}
    assert outcomes >= ({"met", "late", "breach", "due_soon", "match"}), outcomes


def test_the_skeleton_reads_the_shipped_playbooks_types_and_runs(tmp_path: Path) -> None:
    """run.py's skeleton row indexes exactly the event types playbooks/us-retention.yaml reads,
    and runs over a generated log (it checks the count of events itself)."""
    import importlib.util

    from engine.explain import _patterns

    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    bench_run = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = bench_run  # its dataclasses look their module up
    try:
        spec.loader.exec_module(bench_run)
    finally:
        del sys.modules["bench_run"]
    playbook = load_playbook(str(ROOT / "playbooks" / "us-retention.yaml"))
    read = {t for rule in playbook.rules for p in _patterns(rule) for t in p.types}
    read |= {t for fact in playbook.facts for t in fact.source.types}
    assert not any(p.prefixes for rule in playbook.rules for p in _patterns(rule))
    assert set(bench_run.SKELETON_TYPES) == read and len(bench_run.SKELETON_TYPES) == len(read)

    log = tmp_path / "events.jsonl"
    subprocess.run([sys.executable, str(BENCH / "generate.py"), "--events", "2000", "--accounts", "50", "--seed", "1",
                    "--out", str(log)], check=True, capture_output=True, timeout=300)
    done = subprocess.run([sys.executable, "-c", bench_run.SKELETON, str(log), "2000"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    wrong = subprocess.run([sys.executable, "-c", bench_run.SKELETON, str(log), "1999"], capture_output=True, text=True)
    assert wrong.returncode != 0 and "read 2000 events, expected 1999" in wrong.stderr
