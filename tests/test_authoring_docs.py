"""docs/authoring.md: every `console` example runs as shown, output word for word.

A block holds commands (``$ playbook ...``), each followed by its expected output
(stdout and stderr as they interleave); ``$ echo $?`` prints the previous exit
code. Commands run in a scratch directory that sees the repository's files (so
``playbook init`` writes there, not into the checkout).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.conftest import ROOT

DOC = ROOT / "docs" / "authoring.md"


def console_blocks(text: str) -> list[list[tuple[str, str]]]:
    """Each block as (command, expected output) pairs."""
    blocks = []
    for body in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        pairs: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:], []))
            else:
                assert pairs, f"output before any command in a console block:\n{body}"
                pairs[-1][1].append(line)
        blocks.append([(cmd, "".join(out_line + "\n" for out_line in out)) for cmd, out in pairs])
    return blocks


def scratch(tmp_path: Path) -> Path:
    for name in ("playbooks", "examples", "tests", "docs", "schemas"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def run_block(block: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The block as it actually runs: (command, output) pairs."""
    out = []
    code = 0
    for cmd, _ in block:
        if cmd == "echo $?":
            out.append((cmd, f"{code}\n"))
            continue
        words = shlex.split(cmd)
        assert words[0] == "playbook", cmd
        result = CliRunner().invoke(main, words[1:])
        code = result.exit_code
        assert "Traceback" not in result.output
        out.append((cmd, result.output))
    return out


BLOCKS = console_blocks(DOC.read_text())


def test_the_guide_has_console_examples() -> None:
    commands = [cmd.split()[1] for block in BLOCKS for cmd, _ in block if cmd.startswith("playbook")]
    assert {"init", "test", "explain", "validate"} <= set(commands)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_console_example(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(scratch(tmp_path))
    block = BLOCKS[index]
    for (cmd, expected), (_, actual) in zip(block, run_block(block), strict=True):
        assert actual == expected, f"$ {cmd}"
