"""Golden cases: playbook + events in, expected actions out, as data files.

Every ``*test*.yaml`` under tests/golden/ (and the shipped playbooks' own test
files under playbooks/tests/) is a section-11 test file; each of its cases is one
pytest test here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.testing import CaseResult, run_test_file
from tests.conftest import ROOT

FILES = sorted(
    [*ROOT.glob("tests/golden/**/*test*.yaml"), *ROOT.glob("playbooks/tests/*.yaml"), *ROOT.glob("docs/examples/*/test.yaml")]
)


def _results() -> list[tuple[str, CaseResult]]:
    out = []
    for f in FILES:
        for r in run_test_file(str(f)):
            out.append((f"{f.relative_to(ROOT)}::{r.name}", r))
    return out


RESULTS = _results()


def test_golden_files_exist() -> None:
    assert len(FILES) >= 4
    assert len(RESULTS) >= 30


@pytest.mark.parametrize("case", [r for _, r in RESULTS], ids=[n for n, _ in RESULTS])
def test_golden_case(case: CaseResult) -> None:
    assert case.passed, case.report()


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The harness itself must be able to fail: a changed expectation is reported."""
    src = (ROOT / "tests/golden/response/test.yaml").read_text()
    (tmp_path / "playbook.yaml").write_text((ROOT / "tests/golden/response/playbook.yaml").read_text())
    (tmp_path / "test.yaml").write_text(src.replace("params: {late_by: 1,", "params: {late_by: 2,"))
    results = {r.name: r for r in run_test_file(str(tmp_path / "test.yaml"))}
    bad = results["a reply one second after the deadline breaches at the deadline, then is late"]
    assert not bad.passed
    report = bad.report()
    assert "the nearest produced action differs in params:" in report
    assert '"late_by": 2' in report and '"late_by": 1' in report and "!=" in report
    assert sum(1 for r in results.values() if not r.passed) == 1
