"""The README and docs: the quick start, and every example in them, work as shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import load_playbook_text
from engine.testing import run_test_file
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(), flags=re.S)


def test_quick_start_has_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)
    assert [c.strip().count("\n") for c in commands] == [0, 0]
    run_cmd, test_cmd = (c.strip() for c in commands)
    assert run_cmd.startswith("pip install . && playbook run ")
    # No extra that needs a C compiler (tests/test_readme.py checks which extras it installs).
    assert test_cmd.startswith("pip install -e '.[test") and "oracle" not in test_cmd and "pytest" in test_cmd
    assert test_cmd in (ROOT / ".ci" / "run").read_text(), ".ci/run must run the README's test command as written"
    # The main job's arguments exist and work.
    args = run_cmd.split("playbook run ", 1)[1].split()
    result = CliRunner().invoke(main, ["run", *[str(ROOT / a) if not a.startswith("-") else a for a in args]])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) > 20


def test_every_command_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in main.list_commands(None):  # type: ignore[arg-type]
        assert f"`playbook {name}" in readme, f"playbook {name} is not documented in README.md"
        command = main.get_command(None, name)  # type: ignore[arg-type]
        for param in command.params if command else []:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt in readme, f"{name} {opt} is not documented in README.md"


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_playbook_examples_in_docs_are_valid(path: Path) -> None:
    found = [b for b in blocks(path, "yaml") if re.search(r"^playbook:", b, flags=re.M)]
    for block in found:
        load_playbook_text(block, f"{path.name} example")
    if path.name == "README.md":
        assert found


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_test_file_examples_in_docs_pass(path: Path, tmp_path: Path) -> None:
    for i, block in enumerate(b for b in blocks(path, "yaml") if b.startswith("playbooks:")):
        target = tmp_path / f"example{i}.yaml"
        text = block.replace("[../us-retention.yaml]", f"[{ROOT / 'playbooks' / 'us-retention.yaml'}]")
        target.write_text(text)
        results = run_test_file(str(target))
        assert results and all(r.passed for r in results), "\n".join(r.report() for r in results)


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_python_examples_in_docs_run(path: Path) -> None:
    for block in blocks(path, "python"):
        proc = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip()


def test_the_merge_key_example_in_the_language_docs_is_the_one_its_test_runs() -> None:
    """docs/language.md shows docs/examples/merge-keys/playbook.yaml (tests/test_golden.py runs its test.yaml)."""
    shown = [b for b in blocks(ROOT / "docs" / "language.md", "yaml") if b.startswith("playbook: merge-keys\n")]
    written = (ROOT / "docs" / "examples" / "merge-keys" / "playbook.yaml").read_text()
    assert len(shown) == 1 and written.split("\n", 1)[1] == shown[0]
    pb = load_playbook_text(shown[0])
    assert [r.id for r in pb.rules] == ["ack-email", "ack-chat"]


def test_the_language_docs_have_one_table_of_outcomes_per_rule_kind() -> None:
    text = (ROOT / "docs" / "language.md").read_text()
    rows = re.findall(r"^\| `(\w+)` +\|(.*)\|$", text, flags=re.M)
    table = {name: [c.strip() for c in rest.split("|")] for name, rest in rows}
    assert list(table) == ["due_soon", "progress", "breach", "met", "late", "match"]
    assert [table[o][2] for o in table] == ["-", "-", "-", "-", "-", "each firing"]
    assert all(table[o][0] != "-" for o in ("due_soon", "progress", "breach", "met", "late"))


@pytest.mark.parametrize("name", ["support-sla", "renewal"])
def test_the_sla_examples_in_the_language_docs_are_the_ones_their_tests_run(name: str) -> None:
    """docs/language.md shows docs/examples/NAME/playbook.yaml whole (tests/test_golden.py runs its test.yaml)."""
    shown = [b for b in blocks(ROOT / "docs" / "language.md", "yaml") if b.startswith(f"playbook: {name}\n")]
    written = (ROOT / "docs" / "examples" / name / "playbook.yaml").read_text()
    assert len(shown) == 1 and written.split("\n", 1)[1] == shown[0]


def test_the_source_mapping_docs_show_the_tested_mapping_and_its_dry_run_as_they_are() -> None:
    doc = ROOT / "docs" / "sources.md"
    mapping = ROOT / "tests" / "data" / "sources" / "zendesk-tickets.yaml"
    assert blocks(doc, "yaml")[0] == mapping.read_text()
    command = blocks(doc, "sh")[0].strip().split()
    assert command[:3] == ["playbook", "sources", "check"]
    result = CliRunner().invoke(main, [str(ROOT / a) if a.startswith("tests/") else a for a in command[1:]])
    assert result.exit_code == 1  # the export has an invalid record and an unmatched one, on purpose
    assert result.stdout.replace(str(ROOT) + "/", "") == blocks(doc, "text")[0]
