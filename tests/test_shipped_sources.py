"""The shipped source mappings (sources/*.yaml): each maps its sample export
(examples/sources/) with the expected counts, into exactly the expected events
(tests/golden/sources/NAME.events.jsonl), and the shipped playbook produces exactly
the expected actions over them (tests/golden/sources/NAME.actions.jsonl).

Regenerate a golden after a deliberate change with:
    python -m tests.test_shipped_sources NAME
and review the diff."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import load_source, read_mapped
from engine.sources import load_source_text
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "sources"
PLAYBOOK = "playbooks/us-retention.yaml"

# name: (sample, (records, mapped, dropped, no type matched, invalid))
SHIPPED: dict[str, tuple[str, tuple[int, int, int, int, int]]] = {
    "zendesk-ticket-events": ("examples/sources/zendesk-ticket-events.csv", (14, 9, 5, 0, 0)),
    "intercom-conversation-parts": ("examples/sources/intercom-conversation-parts.json", (8, 5, 3, 0, 0)),
    "hubspot-deals": ("examples/sources/hubspot-deals.csv", (7, 5, 2, 0, 0)),
    "segment-track": ("examples/sources/segment-track.jsonl", (10, 6, 4, 0, 0)),
    "statuspage-incidents": ("examples/sources/statuspage-incidents.jsonl", (9, 6, 3, 0, 0)),
}


def mapping(name: str) -> str:
    return f"sources/{name}.yaml"


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def mapped_events(name: str) -> list[dict[str, Any]]:
    sample = SHIPPED[name][0]
    return [{"source": e.source, "event": e.data, "error": e.error} for e in read_mapped(load_source(mapping(name)), sample)]


# Several exports in one run, as pairs: name (the golden's) -> the mappings, each on its sample.
COMBINED: dict[str, tuple[str, ...]] = {
    # a ticket about the outage before its disclosure preempts it (rule disclose-before-notice)
    "statuspage-incidents+zendesk-ticket-events": ("statuspage-incidents", "zendesk-ticket-events"),
}


def run_actions(name: str) -> tuple[list[dict[str, Any]], str]:
    pairs = [a for n in COMBINED.get(name, (name,)) for a in ("--events", SHIPPED[n][0], "--source", mapping(n))]
    result = cli("run", PLAYBOOK, *pairs)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def read_golden(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(autouse=True)
def _in_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the commands as a user types them from a checkout, places relative to it


def test_every_shipped_mapping_has_a_sample_and_a_test() -> None:
    assert sorted(p.stem for p in (ROOT / "sources").glob("*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_mapping_cites_the_vendor_documentation_and_gets_editor_completion(name: str) -> None:
    text = (ROOT / mapping(name)).read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/source.schema.json\n")
    header = text.split("\nsource:", 1)[0]
    assert re.search(r"^#\s+https://\S+", header, flags=re.M), "the header comment cites the vendor's documentation"
    assert f"--events {SHIPPED[name][0]} --source {mapping(name)}" in header, "the header shows the run on the sample"
    assert load_source(mapping(name)).name == name


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_sources_check_maps_the_sample_with_the_expected_counts(name: str) -> None:
    result = cli("sources", "check", mapping(name), "--events", SHIPPED[name][0], "--format", "json")
    assert result.exit_code == 0, result.output
    c = json.loads(result.stdout)["counts"]
    got = (c["records"], c["mapped"], c["dropped"]["count"], c["unmatched"]["count"], c["invalid"]["count"])
    assert got == SHIPPED[name][1]
    assert c["dropped"]["count"] >= 1  # every sample shows a record the mapping leaves out on purpose


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_sample_maps_to_exactly_the_expected_events(name: str) -> None:
    got = mapped_events(name)
    assert got == read_golden(GOLDEN / f"{name}.events.jsonl")
    # every type rule of the mapping is exercised by its sample
    rules = load_source(mapping(name)).type_rules or ()
    assert {e["event"]["type"] for e in got} == {r.type for r in rules}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_shipped_playbook_produces_exactly_the_expected_actions_on_the_sample(name: str) -> None:
    actions, summary = run_actions(name)
    assert actions == read_golden(GOLDEN / f"{name}.actions.jsonl")
    assert actions
    # the mapped events fit the shapes the playbook declares (no warning in the summary)
    assert "not fitting their declared shape" not in summary
    assert f"source {name} ({SHIPPED[name][0]}): " in summary


def test_a_help_desk_ticket_about_an_outage_before_its_disclosure_preempts_it() -> None:
    """Statuspage and Zendesk exports in one run: globex's ticket about its component's
    outage (15:20) comes before the incident is posted (16:30): breach 'preempted'."""
    name = "statuspage-incidents+zendesk-ticket-events"
    actions, summary = run_actions(name)
    assert actions == read_golden(GOLDEN / f"{name}.actions.jsonl")
    disclose = [(a["outcome"], a["reason"], a["key"], a["at"]) for a in actions if a["rule"] == "disclose-before-notice"]
    assert disclose == [("met", None, "acme", "2026-03-10T14:25:00Z"),
                        ("breach", "preempted", "globex", "2026-03-10T15:20:00Z"),
                        ("late", None, "globex", "2026-03-10T16:30:00Z")]
    assert "not fitting their declared shape" not in summary


def test_zendesk_child_events_of_one_update_are_distinct_events_and_a_ticket_is_created_once() -> None:
    events = [e["event"] for e in mapped_events("zendesk-ticket-events")]
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))  # the engine skips a repeated id as a duplicate
    update = [(e["id"], e["type"], e.get("status")) for e in events if e["id"].startswith("zd-9011-")]
    assert update == [("zd-9011-comment", "ticket.replied", None),  # a public reply and "Submit as Pending"
                      ("zd-9011-change-status", "ticket.status_changed", "pending")]
    assert [e["ticket_id"] for e in events if e["type"] == "customer.ticket"] == ["ZD-201", "ZD-202", "ZD-203"]
    _actions, summary = run_actions("zendesk-ticket-events")
    assert "duplicate" not in summary


def test_a_field_mapped_to_null_is_left_out_of_the_event(tmp_path: Path) -> None:
    """One mapping gives several event types their own fields: a null field is absent (reads as null)."""
    src = load_source_text("source: s\nfields:\n  a: \"record.a if record.k == 'x' else null\"\n  b: {from: b}\n"
                           "type:\n  - {when: \"record.k == 'x'\", is: x}\n  - {default: y}\n")
    path = tmp_path / "r.jsonl"
    path.write_text('{"k": "x", "a": 1}\n{"k": "y", "a": 2, "b": 3}\n')
    assert [e.data for e in read_mapped(src, str(path))] == [{"a": 1, "type": "x"}, {"b": 3, "type": "y"}]
    passing = load_source_text("source: s\npass_through: true\nfields:\n  a: \"null\"\n")
    assert [e.data for e in read_mapped(passing, str(path))] == [{"k": "x"}, {"k": "y", "b": 3}]


def test_the_docs_list_every_shipped_mapping_and_their_commands_give_the_golden_actions() -> None:
    doc = (ROOT / "docs" / "sources.md").read_text().split("\n## Shipped mappings\n", 1)[1]
    for name in SHIPPED:
        assert f"`{mapping(name)}`" in doc
    commands = [line.split() for block in re.findall(r"```sh\n(.*?)```", doc, flags=re.S)
                for line in block.strip().splitlines()]
    names = ["+".join(Path(c[i + 1]).stem for i, a in enumerate(c) if a == "--source") for c in commands]
    assert sorted(names) == sorted([*SHIPPED, *COMBINED])
    for command, name in zip(commands, names, strict=True):
        assert command[:2] == ["playbook", "run"]
        result = cli(*command[1:])
        assert result.exit_code == 0, result.stderr
        assert [json.loads(line) for line in result.stdout.splitlines()] == read_golden(GOLDEN / f"{name}.actions.jsonl")


def test_the_readme_names_every_shipped_mapping_and_its_example_command_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Bring your own data", 1)[1].split("\n## ", 1)[0]
    for name in SHIPPED:
        assert f"`{mapping(name)}`" in section
    (command,) = re.findall(r"`(playbook run playbooks/us-retention.yaml --events examples/sources/\S+ --source \S+)`",
                            section)
    result = cli(*command.split()[1:])
    assert result.exit_code == 0 and result.stdout.strip(), result.stderr


def test_the_source_distribution_ships_the_mappings_and_their_samples() -> None:
    import tomllib

    sdist = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["sdist"]
    assert "sources" in sdist["include"] and "examples" in sdist["include"]


def _regenerate(name: str) -> None:
    import os

    os.chdir(ROOT)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    if name in SHIPPED:
        (GOLDEN / f"{name}.events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in mapped_events(name)))
    (GOLDEN / f"{name}.actions.jsonl").write_text("".join(json.dumps(a) + "\n" for a in run_actions(name)[0]))


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        _regenerate(arg)
