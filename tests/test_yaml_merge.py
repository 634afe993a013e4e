"""YAML 1.1 merge keys (``<<: *base``, ``<<: [*a, *b]``): rules share parts, positions stay right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import PlaybookError, load_playbook_text
from engine.loader import load_yaml
from tests.conftest import ROOT

EXAMPLE = ROOT / "docs" / "examples" / "merge-keys"


def test_explicit_keys_win_and_the_earlier_merged_map_wins() -> None:
    text = """\
a: &a {x: 1, y: 1, z: 1}
b: &b {x: 2, y: 2, w: 2}
before: {y: 0, <<: *a}
after: {<<: *a, y: 0}
both: {<<: [*b, *a], x: 0}
chain: {<<: {<<: *a, z: 3}}
"""
    data, _ = load_yaml(text)
    assert data["before"] == {"y": 0, "x": 1, "z": 1}
    assert data["after"] == {"x": 1, "z": 1, "y": 0}
    assert data["both"] == {"y": 2, "w": 2, "z": 1, "x": 0}
    assert data["chain"] == {"x": 1, "y": 1, "z": 3}
    # The anchored maps themselves are unchanged.
    assert data["a"] == {"x": 1, "y": 1, "z": 1} and data["b"] == {"x": 2, "y": 2, "w": 2}


def test_merged_values_keep_the_positions_where_they_are_written() -> None:
    text = """\
base: &base
  expect:
    type: t
    within: 4h
over:
  <<: *base
  within: 1h
"""
    _, pos = load_yaml(text, "p.yaml")
    assert pos.at(("over", "expect", "within")) == (4, 13)  # in the anchored map
    assert pos.key_at(("over", "expect")) == (2, 3)
    assert pos.key_at(("over", "within")) == (7, 3)  # the explicit key, where it is written
    assert pos.at(("over", "within")) == (7, 11)


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    data, _ = load_yaml('a: &a {x: 1}\nb: {"<<": *a}\n')
    assert data["b"] == {"<<": {"x": 1}}


MERGED = """\
playbook: p
version: 1
rules:
  - id: a
    when: x
    expect: &exp
      type: y
      within: 4x
    actions: {}
  - id: b
    when: z
    expect:
      <<: *exp
      type: w
    actions: {}
"""


def test_an_error_in_a_merged_value_points_at_the_anchored_map_once() -> None:
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(MERGED, "p.yaml")
    assert [str(d) for d in info.value.diagnostics] == [
        "p.yaml:8:15: invalid duration '4x': write <number><unit> repeated, units w d h m s (e.g. '90d', '4h', '1h30m')"
    ]


def test_an_error_on_an_explicit_key_points_at_that_key() -> None:
    text = MERGED.replace("4x", "4h").replace("      type: w\n", "      typo: w\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(text, "p.yaml")
    assert [(d.line, d.col) for d in info.value.diagnostics] == [(14, 7)]
    assert "unknown key 'typo'" in info.value.diagnostics[0].message


def test_rules_merge_shared_parts() -> None:
    pb = load_playbook_text(MERGED.replace("4x", "4h"))
    a, b = pb.rules
    assert a.within is not None and b.within is not None and a.within.exact_us == b.within.exact_us
    assert a.expect is not None and b.expect is not None
    assert a.expect.types != b.expect.types  # b's explicit type wins


def test_duplicate_explicit_keys_are_still_errors_but_overriding_a_merged_key_is_not() -> None:
    text = MERGED.replace("4x", "4h").replace("      type: w\n", "      type: w\n      within: 1h\n      within: 2h\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(text, "p.yaml")
    assert [str(d) for d in info.value.diagnostics] == ["p.yaml:16:7: duplicate key 'within' (first defined at line 15)"]


@pytest.mark.parametrize(("value", "what"), [
    ("3", "not the scalar '3'"),
    ("[*exp, 3]", "item 2 of its list is the scalar '3'"),
    ("[*exp, [1]]", "item 2 of its list is a list"),
    ("", "not null"),
])
def test_a_merge_key_with_a_non_mapping_value_is_an_error(value: str, what: str) -> None:
    text = MERGED.replace("4x", "4h").replace("    when: z\n", f"    when: z\n    <<: {value}\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(text, "p.yaml")
    assert [str(d) for d in info.value.diagnostics] == [
        "p.yaml:12:5: the YAML merge key '<<' takes an anchored mapping or a list of them "
        f"(`<<: *defaults`, `<<: [*a, *b]`), {what}"
    ]


def test_two_merge_keys_in_one_mapping_are_a_duplicate() -> None:
    with pytest.raises(PlaybookError) as info:
        load_yaml("a: &a {x: 1}\nb: &b {y: 1}\nc:\n  <<: *a\n  <<: *b\n", "p.yaml")
    assert [str(d) for d in info.value.diagnostics] == [
        "p.yaml:5:3: duplicate key '<<' (first defined at line 4): merge several mappings with one list, `<<: [*a, *b]`"
    ]


def test_a_merge_bomb_is_refused() -> None:
    lines = ["l0: &l0 {" + ", ".join(f"k{i}: {i}" for i in range(10)) + "}"]
    for level in range(1, 7):
        lines.append(f"l{level}: &l{level} {{" + ", ".join(f"k{i}: {{<<: *l{level - 1}}}" for i in range(10)) + "}")
    with pytest.raises(PlaybookError, match="alias bomb"):
        load_yaml("\n".join(lines) + "\n")


def test_x_keys_hold_anchors_and_do_not_change_the_saved_state_digest() -> None:
    text = (EXAMPLE / "playbook.yaml").read_text()
    pb = load_playbook_text(text)
    assert [r.id for r in pb.rules] == ["ack-email", "ack-chat"]
    unused = load_playbook_text(text.replace("rules:\n", "x-unused: {a: 1}\nrules:\n"))
    assert (unused.settings_digest, unused.rule_digests) == (pb.settings_digest, pb.rule_digests)
    # A shared part that changes changes the rules that merge it, as if written in them.
    changed = load_playbook_text(text.replace("expire: 14d", "expire: 10d"))
    assert changed.settings_digest == pb.settings_digest
    assert dict(changed.rule_digests)["ack-chat"] != dict(pb.rule_digests)["ack-chat"]


def test_other_unknown_top_level_keys_are_still_errors() -> None:
    text = (EXAMPLE / "playbook.yaml").read_text().replace("x-urgent:", "urgent:")
    with pytest.raises(PlaybookError, match="unknown key 'urgent' at the top of the playbook"):
        load_playbook_text(text)


def test_every_command_takes_a_playbook_with_merge_keys(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"time": "2026-03-02T09:00:00Z", "type": "customer.message", "account": "acme",
                                  "thread_id": "t1", "channel": "chat"}) + "\n"
                      + json.dumps({"time": "2026-03-02T10:00:00Z", "type": "other", "account": "acme"}) + "\n")
    playbook = str(EXAMPLE / "playbook.yaml")
    runner = CliRunner()
    result = runner.invoke(main, ["validate", playbook])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(main, ["run", playbook, "--events", str(events)])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["do"] for line in result.stdout.splitlines()] == ["page"]
    result = runner.invoke(main, ["test", str(EXAMPLE / "test.yaml")])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "3 passed, 0 failed" in result.stdout
    result = runner.invoke(main, ["explain", playbook, "--events", str(events), "--rule", "ack-chat", "--key", "acme"])
    assert result.exit_code == 0, result.stderr
    assert "within 15m" in result.stdout and "expire 14d" in result.stdout
