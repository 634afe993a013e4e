"""The contract's conformance cases, read from ../shared at test time (never copied).

In a user's clone ../shared is absent: the cases are skipped, saying why.
"""

from __future__ import annotations

import pytest

from engine.testing import run_test_file
from tests.conftest import CONFORMANCE


def _cases() -> list[str]:
    if not CONFORMANCE.is_dir():
        return []
    return sorted(str(p) for p in CONFORMANCE.glob("*/test.yaml"))


CASES = _cases()


@pytest.mark.skipif(not CASES, reason=f"the shared conformance cases are not here ({CONFORMANCE} is absent, as in a user's clone)")
@pytest.mark.parametrize("test_file", CASES or ["-"], ids=lambda p: p.split("/")[-2] if "/" in p else p)
def test_conformance_case(test_file: str) -> None:
    results = run_test_file(test_file)
    assert results, "a conformance file with no cases"
    failures = [f"{r.name}:\n{r.report()}" for r in results if not r.passed]
    assert not failures, "\n".join(failures)
