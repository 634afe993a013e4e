"""Invalid playbooks: every error reported, each as FILE:LINE:COL: message.

Each tests/golden/invalid/NAME.yaml has the exact expected report in NAME.errors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import PlaybookError, load_playbook, load_playbook_text
from engine.schema import schema
from tests.conftest import ROOT

INVALID = sorted((ROOT / "tests" / "golden" / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_playbook_report(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    rel = str(path.relative_to(ROOT))
    expected = path.with_suffix(".errors").read_text()
    result = CliRunner().invoke(main, ["validate", rel])
    assert result.exit_code == 1
    assert result.stderr == expected
    with pytest.raises(PlaybookError) as info:
        load_playbook(rel)
    assert "\n".join(str(d) for d in info.value.diagnostics) + f"\n{len(info.value.diagnostics)} error" in expected


def test_every_error_is_reported_not_just_the_first() -> None:
    with pytest.raises(PlaybookError) as info:
        load_playbook(str(ROOT / "tests/golden/invalid/many-errors.yaml"))
    assert len(info.value.diagnostics) >= 15
    lines = [d.line for d in info.value.diagnostics]
    assert lines == sorted(lines)


def test_shipped_playbooks_are_valid() -> None:
    for path in sorted((ROOT / "playbooks").glob("*.yaml")):
        pb = load_playbook(str(path))
        assert pb.rules


def test_schema_command_prints_the_schema_file() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert result.output == (ROOT / "schemas" / "playbook.schema.json").read_text()
    doc = json.loads(result.output)
    assert doc["$schema"].endswith("2020-12/schema") and doc["$id"]
    assert schema() == doc


def test_shipped_playbooks_point_editors_at_the_schema() -> None:
    for path in sorted((ROOT / "playbooks").glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/playbook.schema.json"
        assert (path.parent / "../schemas/playbook.schema.json").resolve().is_file()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty playbook"),
        ("- a\n- b\n", "a playbook must be a mapping"),
        ("playbook: p\nversion: 1\nrules: []\n", "at least one rule"),
        ("playbook: p\nversion: 1\nrules:\n  - {id: a, when: x, enabled: maybe, actions: {}}\n", "expected true or false"),
        ("playbook: p\nversion: 1\nkey: 3\nrules:\n  - {id: a, when: x, actions: {}}\n", "expected a string"),
        ("a: 1\n---\nb: 2\n", "single YAML document"),
        ("playbook: p\nversion: 1\nrules:\n  - {id: a, when: x, actions: {on_match: [{do: x, y: !!python/object:os.system ls}]}}\n", "unsupported YAML tag"),
        ("playbook: p\nversion: 1\nrules:\n  - id: a\n    when: {type: x, where: \"x.__class__\"}\n    actions: {}\n", "invalid expression"),
        ("playbook: p\nversion: 1\nrules:\n  - id: a\n    when: x\n    threshold: {count: 2}\n    actions: {}\n", "missing required key 'within'"),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    with pytest.raises(PlaybookError) as info:
        load_playbook_text(text, "p.yaml")
    assert any(message in d.message for d in info.value.diagnostics), str(info.value)
    assert all(d.file == "p.yaml" for d in info.value.diagnostics)


def test_a_yaml_anchor_and_alias_work() -> None:
    text = """
playbook: p
version: 1
rules:
  - id: a
    when: x
    actions: {on_match: &acts [{do: notify, to: ops}]}
  - id: b
    when: y
    actions: {on_match: *acts}
"""
    pb = load_playbook_text(text)
    assert [r.actions["match"][0].do for r in pb.rules] == ["notify", "notify"]


def test_unreadable_files_are_errors_not_tracebacks(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PlaybookError, match="file not found"):
        load_playbook(str(missing))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PlaybookError, match="not UTF-8"):
        load_playbook(str(binary))
    assert os.path.exists(binary)


def test_a_file_is_read_once_for_its_text_and_digest(tmp_path: Path) -> None:
    """CRLF and CR line ends read as LF (as text files are read); the digest is of the file's bytes."""
    import hashlib

    source = (ROOT / "playbooks" / "us-retention.yaml").read_bytes()
    lf = load_playbook(str(ROOT / "playbooks" / "us-retention.yaml"))
    for ends in (b"\r\n", b"\r"):
        path = tmp_path / "pb.yaml"
        path.write_bytes(source.replace(b"\n", ends))
        pb = load_playbook(str(path))
        assert pb.digest == hashlib.sha256(path.read_bytes()).hexdigest() != lf.digest
        assert (pb.rule_digests, pb.settings_digest) == (lf.rule_digests, lf.settings_digest)
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"playbook: x\r\nversion: 1\r\nrules: 3\r\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook(str(bad))
    assert any((d.line, d.col) == (3, 8) for d in info.value.diagnostics), info.value.diagnostics


def test_the_schema_is_found_in_a_zipped_package(tmp_path: Path) -> None:
    """engine imported from a zip (zipapp, pex) still reads its packaged schema."""
    import subprocess
    import sys
    import zipfile

    archive = tmp_path / "engine.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in (ROOT / "engine").rglob("*.py"):
            z.write(path, path.relative_to(ROOT).as_posix())
        z.write(ROOT / "schemas" / "playbook.schema.json", "engine/_schema/playbook.schema.json")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import engine.schema as s; "
            "assert s.__file__.startswith(sys.argv[1]), s.__file__; print(len(s.schema_text()))")
    done = subprocess.run([sys.executable, "-c", code, str(archive)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len((ROOT / "schemas" / "playbook.schema.json").read_text(encoding="utf-8"))


def test_a_stray_key_is_not_read_as_a_kind_key_the_rule_cannot_have() -> None:
    """'event' beside 'when' and 'expect' is not a misspelt 'every' (that would make a cadence of a response rule)."""
    with pytest.raises(PlaybookError) as info:
        load_playbook_text("playbook: p\nversion: 1\nrules:\n  - id: r\n    when: q\n    expect: {type: b, within: 1h}\n"
                           "    event: x\n    actions: {on_breach: [{do: x}]}\n", "p.yaml")
    assert [str(d) for d in info.value.diagnostics] == [
        "p.yaml:7:5: unknown key 'event' in a response rule; allowed: actions, description, enabled, expect, expire, "
        "id, overlap, pause, remind_before, resume, unless, when"]
