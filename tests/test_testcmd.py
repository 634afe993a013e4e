"""`playbook test` itself: golden outputs word for word, exit codes, JUnit XML.

The golden files are tests/golden/testcmd/NAME.yaml with NAME.out (stdout) and
NAME.err (stderr, when not empty); see the README there.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine.testing import run_test_files
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "testcmd"
EXIT = {"passing": 0, "failing": 1, "bad-path": 1, "malformed-events": 1, "malformed-inline": 1}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["test", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", sorted(EXIT))
def test_golden_output(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run(f"tests/golden/testcmd/{name}.yaml")
    assert out == (GOLDEN / f"{name}.out").read_text()
    err_file = GOLDEN / f"{name}.err"
    assert err == (err_file.read_text() if err_file.exists() else "")
    assert code == EXIT[name]


def test_every_golden_file_is_checked() -> None:
    assert {p.stem for p in GOLDEN.glob("*.yaml")} - {"playbook"} == set(EXIT)


def test_a_failure_shows_expected_and_produced_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    _, out, _ = run("tests/golden/testcmd/failing.yaml")
    rows = [line.split() for line in out.splitlines()]
    # Each listed field on one row: name, expected, a marker, produced.
    assert ["outcome", '"met"', "!=", '"late"'] in rows
    assert ["rule", '"ack"', "==", '"ack"'] in rows
    assert ["params", '"waited":', '"2h"', "!=", '"waited":', '"1h"'] in rows
    assert out.rstrip().endswith("1 passed, 3 failed")


def test_several_files_and_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run("tests/golden/testcmd/passing.yaml", "docs/examples")
    assert code == 0
    assert "docs/examples/ack-sla/test.yaml:" in out and out.count("PASS ") >= 7
    # A directory holding no test file is a usage error, as is a missing path.
    (tmp_path / "empty").mkdir()
    assert run(str(tmp_path / "empty"))[0] == 2
    code, _, err = run(str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such file or directory" in err


def test_one_bad_file_does_not_hide_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run("tests/golden/testcmd/bad-path.yaml", "tests/golden/testcmd/passing.yaml")
    assert code == 1
    assert out.rstrip().endswith("3 passed, 0 failed, 1 error")
    assert "bad-path.yaml:1:13: playbook file not found" in err


def test_junit_xml_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run("tests/golden/testcmd/failing.yaml", "tests/golden/testcmd/bad-path.yaml",
                       "tests/golden/testcmd/malformed-events.yaml", "--format", "junit")
    assert code == 1
    root = ET.fromstring(out)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "3", "2")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    failing = suites["tests/golden/testcmd/failing.yaml"]
    cases = {c.get("name"): c for c in failing.iter("testcase")}
    assert cases["this case passes"].find("failure") is None
    failure = cases["a wrong outcome and a wrong parameter"].find("failure")
    assert failure is not None
    assert failure.get("message") == "2 expected actions not produced; 2 actions produced but not expected"
    assert "outcome  \"met\"" in (failure.text or "") and "!= \"late\"" in (failure.text or "")
    assert cases["a wrong outcome and a wrong parameter"].get("line") == "8"
    bad = suites["tests/golden/testcmd/bad-path.yaml"].find("testcase/error")
    assert bad is not None and "playbook file not found" in (bad.get("message") or "")
    malformed = suites["tests/golden/testcmd/malformed-events.yaml"]
    assert malformed.get("errors") == "1" and malformed.find("testcase/error") is not None


def test_junit_xml_to_a_file_keeps_the_text_on_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    target = tmp_path / "report.xml"
    code, out, _ = run("tests/golden/testcmd/passing.yaml", "--format", "junit", "--out", str(target))
    assert code == 0
    assert out == (GOLDEN / "passing.out").read_text()
    root = ET.parse(target).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "0", "0")
    # Same results, same bytes: no timings in the report.
    first = target.read_bytes()
    run("tests/golden/testcmd/passing.yaml", "--format", "junit", "--out", str(target))
    assert target.read_bytes() == first


def test_text_report_to_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    target = tmp_path / "report.txt"
    code, out, _ = run("tests/golden/testcmd/failing.yaml", "--out", str(target))
    assert code == 1 and out == ""
    assert target.read_text() == (GOLDEN / "failing.out").read_text()
    code, _, err = run("tests/golden/testcmd/passing.yaml", "--out", str(tmp_path / "no" / "such" / "dir.txt"))
    assert code == 2 and "cannot write" in err
    assert run("tests/golden/testcmd/passing.yaml", "--format", "tap")[0] == 2


def test_run_test_files_reports_each_file() -> None:
    results = run_test_files([str(GOLDEN / "passing.yaml"), str(GOLDEN / "bad-path.yaml")])
    assert [r.ok for r in results] == [True, False]
    assert results[1].errors and not results[1].cases
    assert [c.status for c in results[0].cases] == ["pass"] * 3


def test_the_shipped_playbooks_tests_pass_through_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run("playbooks/tests/")
    assert code == 0 and " 0 failed" in out and "FAIL" not in out
