"""Differential test: the engine against durable_rules, an independent rule engine.

``benchmarks/durable/us_retention.py`` translates the shipped playbook into durable_rules
rulesets (the ``oracle`` extra: ``pip install -e '.[test,oracle]'``). On random small logs
drawn by hypothesis, the engine (in this process) and that translation (in a subprocess,
so that a crash of durable_rules' C core cannot take the test run down) must produce the
same actions: rule, outcome, reason, at, key, subject, deadline, trigger and event ids.

The translation covers the shipped playbook's five version-1 rules (``TRANSLATED``); both
run the playbook restricted to them. durable_rules has no business-hours calendars, so
``ack-within-4h`` runs without its ``calendar:`` line (in exact hours); every other rule is as shipped: two
response rules (``within``, ``same``, ``before``, ``overlap: first``, ``expire``), the
cadence (``every``, ``remind_before``, ``stop``) and two signal rules (``cooldown``,
``threshold`` with ``group_by``), with the facts they read (``tier``, ``modules``).

Skipped, saying so, when durable_rules is not installed (it fails instead when
``PLAYBOOK_REQUIRE_ORACLE`` is set, as ``.ci/run`` does after installing it); its presence is checked with
``importlib.util.find_spec``, its C core is never imported here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import IO, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Engine, Playbook, load_playbook_text
from engine.model import CadenceRule, ResponseRule, SignalRule
from tests.conftest import ROOT

if importlib.util.find_spec("durable") is None or importlib.util.find_spec("durable_rules_engine") is None:
    if os.environ.get("PLAYBOOK_REQUIRE_ORACLE"):  # CI (.ci/run) installed it: a skip there would hide a failure
        pytest.fail("PLAYBOOK_REQUIRE_ORACLE is set but durable_rules is not installed", pytrace=False)
    pytest.skip("durable_rules is not installed, so the differential test against it does not run: "
                "`pip install -e '.[test,oracle]'` installs it (it builds a C extension: it needs a C compiler)",
                allow_module_level=True)

SCRIPT = ROOT / "benchmarks" / "durable" / "us_retention.py"
CALENDAR_LINE = "      calendar: us-business\n"
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
START = int((datetime.fromisoformat("2026-03-02T14:00:00+00:00") - EPOCH).total_seconds())  # a Monday
HOUR = 3600
DAY = 86400
ACCOUNTS = ("acme", "globex", "initech")

# Every outcome the playbook can produce: the random logs must show each of them, or the
# comparison would be trivially true for the rules they miss.
EXPECTED_OUTCOMES = {
    ("ack-within-4h", "met", None), ("ack-within-4h", "breach", "deadline"), ("ack-within-4h", "late", None),
    ("disclose-before-notice", "met", None), ("disclose-before-notice", "breach", "deadline"),
    ("disclose-before-notice", "breach", "preempted"), ("disclose-before-notice", "late", None),
    ("qbr-every-90d", "met", None), ("qbr-every-90d", "due_soon", None), ("qbr-every-90d", "breach", "deadline"),
    ("qbr-every-90d", "late", None), ("propose-multilingual", "match", None), ("propose-onboarding", "match", None),
}


#: The rules the translation covers: the shipped playbook's version-1 rules. The SLA additions
#: (ticket-first-response: priorities, pauses, a ladder on a calendar; renewal-outreach: a deadline
#: at a date) have no counterpart in durable_rules: golden cases and property tests cover them.
TRANSLATED = ("ack-within-4h", "qbr-every-90d", "disclose-before-notice", "propose-multilingual", "propose-onboarding")


def playbook_without_calendar() -> Playbook:
    text = (ROOT / "playbooks" / "us-retention.yaml").read_text()
    ack = text.index("  - id: ack-within-4h\n")
    line = text.index(CALENDAR_LINE, ack)
    next_rule = text.find("  - id: ", ack + 1)
    assert next_rule == -1 or line < next_rule, "the shipped playbook changed: update this test and the translation"
    playbook = load_playbook_text(text[:line] + text[line + len(CALENDAR_LINE):], "us-retention.yaml without its calendar")
    assert set(TRANSLATED) <= {r.id for r in playbook.rules}, "the shipped playbook changed: update the translation"
    return dataclasses.replace(playbook, rules=tuple(r for r in playbook.rules if r.id in TRANSLATED))


PLAYBOOK = playbook_without_calendar()


class Oracle:
    """The durable_rules translation in one long-lived subprocess (``--serve``)."""

    def __init__(self) -> None:
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.proc = subprocess.Popen([sys.executable, str(SCRIPT), "--serve"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)

    def died(self) -> str:
        self.proc.wait(timeout=30)
        self.stderr.seek(0)
        code = self.proc.returncode
        how = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        return f"the durable_rules subprocess died ({how}):\n{self.stderr.read().decode(errors='replace')[-3000:]}"

    def run(self, events: list[dict[str, Any]], until: str | None) -> list[dict[str, Any]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if self.proc.poll() is not None:
            pytest.fail(self.died())
        try:
            self.proc.stdin.write(json.dumps({"events": events, "until": until}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pytest.fail(self.died())
        line = self.proc.stdout.readline()
        if not line:
            pytest.fail(self.died())
        actions: list[dict[str, Any]] = json.loads(line)["actions"]
        return actions

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.stderr.close()


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    proc = Oracle()
    yield proc
    proc.close()


def micros(text: str | None) -> int | None:
    if text is None:
        return None
    return (datetime.fromisoformat(text) - EPOCH) // timedelta(microseconds=1)


Key = tuple[Any, ...]


def normalized(record: dict[str, Any]) -> Key:
    """What must agree: everything but the rendered parameters (and the id made of these)."""
    return (record["rule"], record["outcome"], record["reason"], micros(record["at"]), json.dumps(record["key"]),
            json.dumps(record["subject"], sort_keys=True), micros(record["deadline"]),
            record["trigger"]["id"] if record["trigger"] else None, record["event"]["id"] if record["event"] else None)


def ours(events: list[dict[str, Any]], until: str | None) -> Counter[Key]:
    return Counter(normalized(a.record()) for a in Engine([PLAYBOOK]).run(events, until=until))


# --- random logs ------------------------------------------------------------------------------

maybe = st.sampled_from
ABSENT = None  # a field drawn as None is left out of the event


def fields(etype: str) -> st.SearchStrategy[dict[str, Any]]:
    threads = maybe(["t1", "t2"])
    incidents = maybe(["i1", "i2"])
    if etype == "customer.message":
        return st.fixed_dictionaries({"thread_id": threads, "channel": maybe(["email", "slack", "chat", "phone"]),
                                      "internal": maybe([ABSENT, ABSENT, False, True])})
    if etype == "vendor.reply":
        return st.fixed_dictionaries({"thread_id": maybe(["t1", "t2", "t1", "t2", ABSENT])})
    if etype == "account.updated":
        return st.fixed_dictionaries({"tier": maybe([ABSENT, "free", "pro", "enterprise"]),
                                      "csm": maybe([ABSENT, "dana@example.com"]), "arr": maybe([ABSENT, 5000, 250000]),
                                      "seats": maybe([ABSENT, 12, 400])})
    if etype == "incident.opened":
        return st.fixed_dictionaries({"incident_id": incidents, "severity": maybe(["sev1", "sev2", "sev3"])})
    if etype in ("incident.disclosed", "customer.ticket"):
        return st.fixed_dictionaries({"incident_id": maybe(["i1", "i2", "i1", ABSENT])})
    if etype == "signal.expansion":
        return st.fixed_dictionaries({"region": maybe(["APAC", "LATAM", "EMEA"]),
                                      "country": maybe([ABSENT, "Japan", "Brazil"])})
    if etype == "signal.hiring":
        return st.fixed_dictionaries({"department": maybe(["sales", "sales", "engineering"]),
                                      "location": maybe(["Austin", "Austin", "Paris"])})
    if etype == "module.purchased":
        return st.fixed_dictionaries({"module": maybe(["multilingual", "onboarding", "audit-log"])})
    if etype == "qbr.held":
        return st.fixed_dictionaries({"roi": maybe([ABSENT, {}, {"value_usd": 0}, {"value_usd": 1500},
                                                    {"value_usd": 48000.5}, {"value_usd": 200}])})
    return st.just({})  # contract.signed, contract.ended, user.login (read by no rule)


# A log is a few episodes, each around one rule, overlaid in time on the same accounts,
# threads and incidents, so that they also interfere: a message and the replies to its
# thread, an incident and its disclosure racing a ticket, a contract and its QBRs, a run
# of signals. Follow-ups come after one of the gaps the rule cares about (around a
# deadline, a reminder, an expiry, a cooldown or a window; a reply exactly at the deadline
# is on time) or after any gap up to the episode's scale.
M = 60
EPISODES: dict[str, tuple[tuple[str, ...], list[int], int]] = {  # first event: follow-ups, notable gaps, scale
    "customer.message": (("vendor.reply", "vendor.reply", "customer.message"),
                         [0, M, 4 * HOUR - 1, 4 * HOUR, 4 * HOUR + 1, DAY, 14 * DAY, 14 * DAY + 4 * HOUR, 15 * DAY],
                         2 * DAY),
    "incident.opened": (("incident.disclosed", "customer.ticket"),
                        [0, 30 * M, HOUR, HOUR + 1, 2 * HOUR, 30 * DAY + HOUR, 31 * DAY], 3 * HOUR),
    "contract.signed": (("qbr.held", "qbr.held", "qbr.held", "contract.ended"),
                        [0, HOUR, 14 * DAY, 76 * DAY, 80 * DAY, 90 * DAY, 91 * DAY, 104 * DAY, 150 * DAY, 181 * DAY],
                        200 * DAY),
    "signal.hiring": (("signal.hiring", "signal.hiring", "module.purchased"),
                      [0, DAY, 10 * DAY, 29 * DAY, 30 * DAY, 31 * DAY, 59 * DAY, 60 * DAY, 61 * DAY], 20 * DAY),
    "signal.expansion": (("signal.expansion", "module.purchased"),
                         [0, DAY, 29 * DAY, 30 * DAY, 30 * DAY + 1, 45 * DAY], 40 * DAY),
    "account.updated": (("account.updated", "user.login"), [0, HOUR, DAY], 10 * DAY),  # facts; a type no rule reads
}


@st.composite
def episode(draw: st.DrawFn, accounts: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    first = draw(maybe(sorted(EPISODES)))
    follow, notable, scale = EPISODES[first]
    account = draw(maybe(accounts))
    shared = draw(fields(first))  # a thread, an incident, a location...
    t = draw(st.integers(0, 60 * DAY))
    events = [(t, {"type": first, **shared})]
    for _ in range(draw(st.integers(0, 4))):
        t += draw(maybe(notable)) if draw(st.booleans()) else draw(st.integers(0, scale))
        etype = draw(maybe(follow))
        own = draw(fields(etype))
        if draw(st.integers(0, 3)):  # mostly about the same thread, incident or location
            own.update((k, v) for k, v in shared.items() if k in own)
        events.append((t, {"type": etype, **own}))
    for _, event in events:
        event["account"] = account
    return events


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str | None]:
    accounts = ACCOUNTS[:draw(st.integers(1, len(ACCOUNTS)))]
    episodes = draw(st.lists(episode(accounts), min_size=1, max_size=6))
    timed = sorted(((t, i, j), e) for i, ep in enumerate(episodes) for j, (t, e) in enumerate(ep))
    events = []
    for n, ((t, _, _), drawn) in enumerate(timed):
        event = {"id": f"e{n}", **{k: v for k, v in drawn.items() if v is not ABSENT}}
        # Times as RFC 3339 text, now and then as epoch seconds (both engines read both).
        seconds = START + t
        event["time"] = seconds if draw(st.integers(0, 9)) == 0 else rfc3339(seconds)
        events.append(event)
    until = None
    if draw(st.booleans()):
        until = rfc3339(START + timed[-1][0][0] + draw(st.one_of(maybe([0, 4 * HOUR, 90 * DAY]), st.integers(0, 120 * DAY))))
    return events, until


def rfc3339(seconds: int) -> str:
    return f"{(EPOCH + timedelta(seconds=seconds)).isoformat()[:19]}Z"


# --- the tests --------------------------------------------------------------------------------


def test_the_translation_encodes_the_shipped_playbook() -> None:
    """The translation's numbers are the playbook's: a changed playbook fails here, not in the diff."""
    proc = subprocess.run([sys.executable, str(SCRIPT), "--parameters"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    encoded = json.loads(proc.stdout)
    rules = {r.id: r for r in PLAYBOOK.rules}
    assert list(rules) == list(encoded)
    ack, qbr, disclose = rules["ack-within-4h"], rules["qbr-every-90d"], rules["disclose-before-notice"]
    multilingual, onboarding = rules["propose-multilingual"], rules["propose-onboarding"]
    assert isinstance(ack, ResponseRule) and isinstance(disclose, ResponseRule) and isinstance(qbr, CadenceRule)
    assert isinstance(multilingual, SignalRule) and isinstance(onboarding, SignalRule)
    assert ack.within and disclose.within and qbr.remind_before and ack.calendar is None
    actual = {
        "ack-within-4h": {"within": ack.within.exact_us, "expire": ack.expire_us},
        "qbr-every-90d": {"every": qbr.every.exact_us, "remind_before": qbr.remind_before.exact_us},
        "disclose-before-notice": {"within": disclose.within.exact_us, "expire": disclose.expire_us},
        "propose-multilingual": {"cooldown": multilingual.cooldown_us},
        "propose-onboarding": {"cooldown": onboarding.cooldown_us, "count": onboarding.threshold_count,
                               "within": onboarding.threshold_within_us},
    }
    assert actual == encoded


def test_engine_and_durable_rules_agree_on_random_logs(oracle: Oracle) -> None:
    seen: Counter[tuple[str, str, str | None]] = Counter()

    @settings(max_examples=int(os.environ.get("ORACLE_EXAMPLES", "500")), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(logs())
    def agree(log: tuple[list[dict[str, Any]], str | None]) -> None:
        events, until = log
        actual = Counter(normalized(r) for r in oracle.run(events, until))
        expected = ours(events, until)
        only_ours, only_durable = expected - actual, actual - expected
        assert not only_ours and not only_durable, (
            f"the engine and durable_rules disagree\nonly the engine: {sorted(only_ours)}\n"
            f"only durable_rules: {sorted(only_durable)}")
        seen.update((k[0], k[1], k[2]) for k in expected.elements())

    agree()
    missing = EXPECTED_OUTCOMES - set(seen)
    assert not missing, f"the random logs never produced {sorted(missing)}: the comparison is too weak ({seen})"
