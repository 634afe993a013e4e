#!/usr/bin/env python3
"""The four-lever playbook (``playbooks/us-retention.yaml``) translated into durable_rules.

    python benchmarks/durable/us_retention.py LOG [--out FILE] [--limit N] [--until TIME]
    python benchmarks/durable/us_retention.py --serve        # the differential test's protocol
    python benchmarks/durable/us_retention.py --parameters   # the playbook's numbers it encodes

A hand translation of the five version-1 rules of the shipped playbook (``ack-within-4h``,
``qbr-every-90d``, ``disclose-before-notice``, ``propose-multilingual``,
``propose-onboarding``) and of the facts they read, into durable_rules 2.0.28 rulesets
(``pip install '.[oracle]'``); the playbook's SLA-policy rules (``ticket-first-response``,
``renewal-outreach``) have no counterpart here. It is the baseline of ``benchmarks/run.py`` and the oracle
of ``tests/test_oracle_durable.py``; always run it in its own process: a crash of
durable_rules' C core must not take the caller down.

How the playbook maps onto durable_rules (see ``benchmarks/README.md``):

* every account is a durable_rules *state* (``sid``); state lives in facts of that sid;
* each event is asserted as a fact (``kind: ev``) holding the fields the rules read, and
  retracted by this driver once the rules have run on it (every rule action runs
  synchronously inside the assert call: the host's wall-clock dispatch threads and
  timers are switched off);
* event time is a per-account ``clock`` fact: before an account's event at time t, the
  driver replaces its clock by t, and rules joining the clock with obligations,
  cadences and reminders (``clock.t > deadline``) fire breaches, reminders and expiries,
  highest priority first (``pri``: a reminder before its period's due date). At the end
  every account's clock moves to ``until`` (default: the greatest event time). This is
  the contract's clock: an instant fires when an event strictly later is processed;
* obligations, cadences, cooldowns, threshold windows and the facts the conditions read
  (``tier``, ``modules``) are facts; a change is a retract and an assert in an action.
  ``csm``, ``arr`` and ``seats``, read only by action parameters, are kept in a Python
  dict updated by durable_rules rules (actions are Python code in durable_rules too);
* action parameters are rendered with Python f-strings, close to the playbook's
  templates (not byte-identical); records are written as produced, not sorted.

What it simplifies, i.e. what durable_rules cannot express:

* no business-hours calendar: ``ack-within-4h`` is due 4 hours of *exact* time after
  the message (the playbook counts 4 business hours on ``us-business``), so its
  deadlines, breaches and late replies differ from ``playbook run`` on the same log.
  The differential test uses the playbook with the calendar line removed;
* event types no rule or fact reads are parsed (and count for ``until``) but never
  posted: ``playbook run`` does not show them to its rules either;
* values are compared the way durable_rules compares them: the driver posts
  ``internal`` only when it is a boolean and ``roi.value_usd`` only when it is a number
  (durable_rules takes the string ``"true"`` for ``true``, and ``true`` for a number);
  ``same`` and ``group_by`` values are compared as durable_rules compares them (the
  differential test generates strings);
* events need an ``id`` (the fact's id in durable_rules; ids unique per account) and a
  file must be in time order (the generator's logs are); ``--serve`` sorts its batches.

durable_rules' limits met here (2.0.28, the last release, from 2020):

* at most 1024 states (accounts) per ruleset: the 1025th gets ``MemoryError``, and the
  next call on that ruleset crashed the process (SIGSEGV). Accounts are placed in shards
  of ``--shard-size`` (1000) accounts, each a copy of the ruleset;
* memory per account: every state allocates its join (beta) memory up front, ~600 KB
  per account for this ruleset whatever the account holds (~2.4 GB for the 3,980
  accounts of the first 20,000 events of the 1M-event benchmark log); creating a state
  costs ~0.5 ms;
* states and facts are looked up by a 32-bit FNV hash of their name alone: two sids with
  equal hashes in one ruleset would share a state (the driver places such an account in
  another shard);
* the known out-of-bounds read in its C core: when a join condition (one with a
  comparison to another fact) is false, ``reduceExpressionSequence`` skips to the end
  of the condition from the wrong place and reads past it, until a byte happens to look
  like the end marker. Valgrind shows it, and with two such comparisons in one join it
  crashed this translation at random (SIGSEGV). Workaround: every fact has ``one: 1`` and
  every join condition ends with the always-true ``one == <other fact>.one``;
* a rule with ``none(...)`` fires again when an action retracts and re-asserts a fact
  that the ``none`` reads while the event is still asserted (the activation queued in
  between is not withdrawn): the translation never does that (cooldowns end by the clock,
  threshold windows are one fact per counted event);
* an action's exception is only stored in the state: the driver records and raises it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import resource
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from durable import engine as durable_engine
from durable import lang
from durable.lang import c, m, none, pri, ruleset, when_all

PLAYBOOK = "us-retention"
US = 1_000_000
HOUR = 3600 * US
DAY = 24 * HOUR
TZ = ZoneInfo("America/New_York")

# The numbers of playbooks/us-retention.yaml this translation encodes (microseconds);
# tests/test_oracle_durable.py checks them against the playbook as loaded by the engine.
PARAMETERS: dict[str, dict[str, int]] = {
    "ack-within-4h": {"within": 4 * HOUR, "expire": 14 * DAY},
    "qbr-every-90d": {"every": 90 * DAY, "remind_before": 14 * DAY},
    "disclose-before-notice": {"within": 1 * HOUR, "expire": 30 * DAY},
    "propose-multilingual": {"cooldown": 30 * DAY},
    "propose-onboarding": {"cooldown": 60 * DAY, "count": 3, "within": 30 * DAY},
}
ACK = PARAMETERS["ack-within-4h"]
QBR = PARAMETERS["qbr-every-90d"]
DISCLOSE = PARAMETERS["disclose-before-notice"]
MULTILINGUAL = PARAMETERS["propose-multilingual"]
ONBOARDING = PARAMETERS["propose-onboarding"]
CS_LEADS = "cs-leads@example.com"

# Per event type, the fields the rules and facts read: only these are posted.
FIELDS: dict[str, tuple[str, ...]] = {
    "account.updated": ("tier", "csm", "arr", "seats"),
    "module.purchased": ("module",),
    "customer.message": ("channel", "internal", "thread_id"),
    "vendor.reply": ("thread_id",),
    "incident.opened": ("severity", "incident_id"),
    "incident.disclosed": ("incident_id",),
    "customer.ticket": ("incident_id",),
    "contract.signed": (),
    "contract.ended": (),
    "qbr.held": ("roi",),
    "signal.expansion": ("region", "country"),
    "signal.hiring": ("department", "location"),
}

SHARD_SIZE = 1000  # accounts per ruleset (durable_rules allows 1024 states per ruleset)
MAX_STATES = 1024


class ActionError(Exception):
    """A rule action raised: durable_rules would only store the message in the state."""


class _Host(durable_engine.Host):
    """A host without its wall-clock dispatch threads: everything runs inside the calls."""

    def _run(self) -> None:
        pass


def fnv1_32(text: str) -> int:
    """durable_rules' hash of a sid (``fnv1Hash32`` over C ``char``, signed on x86)."""
    h = 0x811C9DC5
    for b in text.encode():
        h ^= (b - 256 if b >= 128 else b) & 0xFFFFFFFF
        h = (h * 16777619) & 0xFFFFFFFF
    return h


# --- output -----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rfc3339(us: int) -> str:
    dt = _EPOCH + timedelta(microseconds=us)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def local(us: int, fmt: str) -> str:
    return (_EPOCH + timedelta(microseconds=us)).astimezone(TZ).strftime(fmt)


def format_duration(us: int) -> str:
    rest = round(abs(us) / US)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            count, rest = divmod(rest, size)
            parts.append(f"{count}{unit}")
    return ("-" if us < 0 else "") + (" ".join(parts) if parts else "0s")


def _num(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Facts:
    """The facts action parameters read (the conditions read durable_rules facts)."""

    __slots__ = ("tier", "csm", "arr", "seats", "modules")

    def __init__(self) -> None:
        self.tier: Any = None
        self.csm: Any = None
        self.arr: Any = None
        self.seats: Any = None
        self.modules: set[Any] = set()

    def to(self) -> Any:
        return self.csm if self.csm is not None else CS_LEADS

    def big(self) -> bool:
        arr = _num(self.arr)
        return arr is not None and arr >= 100000


Ref = tuple[str, str, int]  # an event's id, type and time (microseconds)


def params(rule: str, outcome: str, key: Any, f: Facts, trig: dict[str, Any], at: int, deadline: int | None,
           reason: str | None, extra: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``do`` and the parameters of the playbook's action for this outcome."""
    elapsed = at - trig["tt"]
    if rule == "ack-within-4h":
        if outcome == "breach":
            return "escalate", {
                "to": f.to(),
                "severity": "high" if f.tier == "enterprise" or f.big() else "normal",
                "message": (f"No acknowledgement to {key} within 4 business hours (waiting {format_duration(elapsed)}) "
                            f"({trig.get('channel', '')} thread {trig.get('thread_id', '')}, received "
                            f"{local(trig['tt'], '%a %b %d %H:%M %Z')}; SLA 4 business hours, due "
                            f"{local(deadline or at, '%a %H:%M %Z')}). "
                            "A two-line \"received, on it\" is enough — send it now."),
            }
        if outcome == "late":
            return "task", {
                "assignee": f.to(),
                "title": f"Follow up with {key}: thread {trig.get('thread_id', '')} waited {format_duration(elapsed)}",
                "message": (f"Our first reply came {format_duration(extra['late_by'])} past the 4-business-hour SLA. "
                            "Check the answer landed well and apologise for the wait if it mattered."),
            }
        return "record_metric", {"metric": "ack_seconds", "value": elapsed // US, "channel": trig.get("channel")}
    if rule == "qbr-every-90d":
        missed = extra.get("periods_missed", 0)
        if outcome == "due_soon":
            return "remind", {
                "to": f.to(),
                "title": f"Prepare the QBR for {key} (due {local(deadline or at, '%b %d')})",
                "message": ("Build the ROI deck: dollars earned or hours saved since the last review. "
                            "A task list is not a QBR — it only counts with an ROI."),
            }
        if outcome == "breach":
            return "escalate", {
                "to": CS_LEADS,
                "cc": f.csm,
                "severity": "high" if missed > 1 or f.big() else "normal",
                "message": (f"{key} (ARR ${f.arr if f.arr is not None else '?'}) is past its 90-day QBR with no "
                            f"ROI shown: {missed} period{'' if missed == 1 else 's'} missed. Clients with regular "
                            "QBRs are twice as likely to renew: book one this week, with the dollars we made them."),
            }
        if outcome == "late":
            return "record_metric", {"metric": "qbr_late_seconds", "value": extra["late_by"] // US,
                                     "periods_missed": missed}
        return "record_metric", {"metric": "qbr_roi_usd", "value": extra.get("roi")}
    if rule == "disclose-before-notice":
        severity = trig.get("severity")
        if outcome == "breach":
            first = "The customer reported it first" if reason == "preempted" else "Not disclosed within 1h"
            return "escalate", {
                "to": "incident-comms@example.com",
                "cc": f.csm,
                "severity": "critical" if severity == "sev1" else "high",
                "message": (f"{first}: {severity} incident {trig.get('incident_id', '')} for {key}, "
                            f"{format_duration(elapsed)} after it opened. Send the disclosure now: what happened, "
                            "the impact, our plan, when it is back to normal."),
            }
        if outcome == "late":
            return "task", {
                "assignee": f.to(),
                "title": f"Debrief {key} on incident {trig.get('incident_id', '')}",
                "message": (f"Disclosed {format_duration(elapsed)} after the incident opened. "
                            "Call the account, own the delay, and add it to the next QBR."),
            }
        return "record_metric", {"metric": "disclosure_seconds", "value": elapsed // US, "severity": severity}
    if rule == "propose-multilingual":
        where = trig.get("country") if trig.get("country") is not None else trig.get("region")
        return "propose", {
            "to": f.to(), "module": "multilingual",
            "message": (f"{key} is expanding into {where} ({trig.get('region')}). Offer a demo of the "
                        "multilingual module before they go looking elsewhere."),
        }
    seats = f.seats if f.seats is not None else "unknown"
    return "propose", {
        "to": f.to(), "module": "onboarding",
        "message": (f"{key} is hiring sales reps in {trig.get('location')} (3+ openings in 30 days, {seats} seats "
                    "today). Our onboarding module could cut their ramp-up time by 20% — offer to show them."),
    }


# --- the rulesets -----------------------------------------------------------------------


class Translation:
    """The rulesets (one per shard of accounts) and the driver that feeds them."""

    def __init__(self, write: Callable[[dict[str, Any]], object], shard_size: int = SHARD_SIZE):
        if not 1 <= shard_size <= MAX_STATES:
            raise ValueError(f"shard size must be between 1 and {MAX_STATES}")
        self.write = write
        self.shard_size = shard_size
        self.host = _Host()
        self.shards: list[tuple[str, set[int]]] = []  # (ruleset name, sid hashes placed in it)
        self.places: dict[str, tuple[str, str]] = {}  # account (as text) -> (ruleset, sid)
        self.keys: dict[str, Any] = {}  # sid -> the account as the log spells it
        self.facts: dict[str, Facts] = {}  # sid -> facts read by parameters
        self.clocks: dict[str, int] = {}  # sid -> the clock fact's time
        self.errors: list[str] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self.batch = 0  # --serve: a new prefix of sids per batch, i.e. fresh states
        self.serial = 0  # events posted: their order of arrival
        self.hires: dict[tuple[str, bytes], int] = {}  # (sid, location) -> arrival number of its last hire

    # The rules. Each action's effects are retracts and asserts of facts of its own state.

    def _definition(self, name: str) -> dict[str, Any]:
        emit = self._emit
        guard = self._guard
        ev = m.kind == "ev"

        def last(alias: str) -> Any:
            """An always-true comparison to end a join's condition with (every fact has ``one: 1``):
            durable_rules' short-circuit of a false join condition steps past the end of the
            condition's expressions (its known out-of-bounds read) unless the last one is true.
            (Comparing ``sid``s instead reads freed memory.)"""
            return m.one == getattr(c, alias).one

        def ob_of(rule: str, same_field: str) -> Any:
            return (m.kind == "ob") & (m.rule == rule) & (m.same == getattr(c.ev, same_field)) & last("ev")

        rs = ruleset(name)
        with rs:
            # Facts, folded before the rules see the same event (highest priority).
            @when_all(pri(-10), c.ev << ev & (m.type == "account.updated") & +m.tier)
            @guard
            def fact_tier(c: Any) -> None:
                _retract(c, "fact:tier")
                _assert(c, {"id": "fact:tier", "kind": "fact", "name": "tier", "value": c.ev.tier})
                self.facts[c.s.sid].tier = c.ev.tier

            @when_all(pri(-10), c.ev << ev & (m.type == "account.updated") & +m.csm)
            @guard
            def fact_csm(c: Any) -> None:
                self.facts[c.s.sid].csm = c.ev.csm

            @when_all(pri(-10), c.ev << ev & (m.type == "account.updated") & +m.arr)
            @guard
            def fact_arr(c: Any) -> None:
                self.facts[c.s.sid].arr = c.ev.arr

            @when_all(pri(-10), c.ev << ev & (m.type == "account.updated") & +m.seats)
            @guard
            def fact_seats(c: Any) -> None:
                f = self.facts[c.s.sid]
                seats = c.ev.seats
                if f.seats is None or (_num(seats) is not None and _num(f.seats) is not None and seats > f.seats):
                    f.seats = seats

            @when_all(pri(-10), c.ev << ev & (m.type == "module.purchased") & +m.module,
                      none((m.kind == "module") & (m.module == c.ev.module) & last("ev")))
            @guard
            def fact_module(c: Any) -> None:
                _assert(c, {"id": f"module:{c.ev.module}", "kind": "module", "module": c.ev.module})
                self.facts[c.s.sid].modules.add(c.ev.module)

            # ack-within-4h (exact time: no calendar in durable_rules).
            @when_all(c.ev << ev & (m.type == "customer.message")
                      & ((m.channel == "email") | (m.channel == "slack") | (m.channel == "chat"))
                      & ((-m.internal) | (m.internal != True))  # noqa: E712 (a durable_rules expression)
                      & +m.thread_id,
                      none((m.kind == "fact") & (m.name == "tier") & (m.value == "free")),
                      none(ob_of("ack", "thread_id")))
            @guard
            def ack_trigger(c: Any) -> None:
                e = c.ev
                _assert(c, {"id": f"ob:ack:{e.thread_id}", "kind": "ob", "rule": "ack", "same": e.thread_id,
                            "state": "open", "deadline": e.t + ACK["within"], "tid": e.eid, "ttype": e.type, "tt": e.t,
                            "channel": e.channel, "thread_id": e.thread_id})

            @when_all(c.ev << ev & (m.type == "vendor.reply") & +m.thread_id,
                      c.ob << ob_of("ack", "thread_id"))
            @guard
            def ack_reply(c: Any) -> None:
                self._fulfil(c, "ack-within-4h", {"thread_id": c.ob.same})

            @when_all(c.ob << (m.kind == "ob") & (m.rule == "ack") & (m.state == "open"),
                      c.clk << (m.kind == "clock") & (m.t > c.ob.deadline) & last("ob"))
            @guard
            def ack_deadline(c: Any) -> None:
                self._breach(c, "ack-within-4h", {"thread_id": c.ob.same}, c.ob.deadline, None, ACK["expire"])

            @when_all(c.ob << (m.kind == "ob") & (m.rule == "ack") & (m.state == "breached"),
                      c.clk << (m.kind == "clock") & (m.t > c.ob.expire_at) & last("ob"))
            @guard
            def ack_expire(c: Any) -> None:
                _retract(c, c.ob.id)

            # disclose-before-notice: within 1h and before a linked customer.ticket.
            @when_all(c.ev << ev & (m.type == "incident.opened")
                      & ((m.severity == "sev1") | (m.severity == "sev2")) & +m.incident_id,
                      none(ob_of("disclose", "incident_id")))
            @guard
            def disclose_trigger(c: Any) -> None:
                e = c.ev
                _assert(c, {"id": f"ob:disclose:{e.incident_id}", "kind": "ob", "rule": "disclose",
                            "same": e.incident_id, "state": "open", "deadline": e.t + DISCLOSE["within"],
                            "tid": e.eid, "ttype": e.type, "tt": e.t, "severity": e.severity,
                            "incident_id": e.incident_id})

            @when_all(c.ev << ev & (m.type == "incident.disclosed") & +m.incident_id,
                      c.ob << ob_of("disclose", "incident_id"))
            @guard
            def disclose_fulfil(c: Any) -> None:
                self._fulfil(c, "disclose-before-notice", {"incident_id": c.ob.same})

            @when_all(c.ev << ev & (m.type == "customer.ticket") & +m.incident_id,
                      c.ob << ob_of("disclose", "incident_id") & (m.state == "open"))
            @guard
            def disclose_preempt(c: Any) -> None:
                e = c.ev
                self._breach(c, "disclose-before-notice", {"incident_id": c.ob.same}, e.t, (e.eid, e.type, e.t),
                             DISCLOSE["expire"], reason="preempted")

            @when_all(c.ob << (m.kind == "ob") & (m.rule == "disclose") & (m.state == "open"),
                      c.clk << (m.kind == "clock") & (m.t > c.ob.deadline) & last("ob"))
            @guard
            def disclose_deadline(c: Any) -> None:
                self._breach(c, "disclose-before-notice", {"incident_id": c.ob.same}, c.ob.deadline, None,
                             DISCLOSE["expire"])

            @when_all(c.ob << (m.kind == "ob") & (m.rule == "disclose") & (m.state == "breached"),
                      c.clk << (m.kind == "clock") & (m.t > c.ob.expire_at) & last("ob"))
            @guard
            def disclose_expire(c: Any) -> None:
                _retract(c, c.ob.id)

            # qbr-every-90d: expect first, then stop, then start (distinct types here).
            # A cadence replaced by an action joins the same event again: ``tid`` (the event
            # that last qualified) keeps the event from qualifying twice.
            @when_all(c.ev << ev & (m.type == "qbr.held") & (m.roi_usd > 0),
                      c.cad << (m.kind == "cadence") & (m.tid != c.ev.eid) & last("ev"))
            @guard
            def qbr_expect(c: Any) -> None:
                self._qualify(c)

            @when_all(c.ev << ev & (m.type == "contract.ended"), c.cad << (m.kind == "cadence"))
            @guard
            def qbr_stop(c: Any) -> None:
                _retract(c, "cadence")

            @when_all(c.ev << ev & (m.type == "contract.signed"), none(m.kind == "cadence"))
            @guard
            def qbr_start(c: Any) -> None:
                e = c.ev
                _assert(c, _period({"id": "cadence", "kind": "cadence", "missed": 0, "first_missed": 0,
                                    "tid": e.eid, "ttype": e.type, "tt": e.t}, e.t))

            @when_all(pri(1), c.cad << (m.kind == "cadence") & (m.reminded == 0),
                      c.clk << (m.kind == "clock") & (m.t > c.cad.remind_at) & last("cad"))
            @guard
            def qbr_remind(c: Any) -> None:
                cad = dict(c.cad._d)
                emit(c.s.sid, "qbr-every-90d", "due_soon", cad["remind_at"], {}, cad, None, cad["due"],
                     periods_missed=cad["missed"])
                cad["reminded"] = 1
                _replace(c, cad)

            @when_all(pri(2), c.cad << (m.kind == "cadence"),
                      c.clk << (m.kind == "clock") & (m.t > c.cad.due) & last("cad"))
            @guard
            def qbr_due(c: Any) -> None:
                cad = dict(c.cad._d)
                at = cad["due"]
                cad["missed"] += 1
                if cad["missed"] == 1:
                    cad["first_missed"] = at
                emit(c.s.sid, "qbr-every-90d", "breach", at, {}, cad, None, at, reason="deadline",
                     periods_missed=cad["missed"])
                _replace(c, _period(cad, at))

            # Signal rules. A cooldown is a fact until the clock reaches its end (a match at
            # t is suppressed iff t < last firing + cooldown): the clock retracts it, so the
            # rules only ask that none is left. (durable_rules does not withdraw an activation
            # queued while a fact that a `none` reads was briefly absent: replacing such a
            # fact in an action while the event is still asserted would fire the rule again,
            # and again, until the C core crashes. Hence no retract-and-assert of cooldowns
            # or windows while an event is present.)
            @when_all(c.cool << (m.kind == "cooldown"), c.clk << (m.kind == "clock") & (m.t >= c.cool.until) & last("cool"))
            @guard
            def cooldown_over(c: Any) -> None:
                _retract(c, c.cool.id)

            # propose-multilingual: a match fires unless in cooldown or the module is owned.
            @when_all(c.ev << ev & (m.type == "signal.expansion") & ((m.region == "APAC") | (m.region == "LATAM")),
                      none((m.kind == "module") & (m.module == "multilingual")),
                      none((m.kind == "cooldown") & (m.rule == "multilingual")))
            @guard
            def multilingual(c: Any) -> None:
                e = c.ev
                emit(c.s.sid, "propose-multilingual", "match", e.t, {}, _trig(e._d), (e.eid, e.type, e.t), None)
                _assert(c, {"id": "cooldown:multilingual", "kind": "cooldown", "rule": "multilingual",
                            "until": e.t + MULTILINGUAL["cooldown"]})

            # propose-onboarding: the 3rd sales opening in one location within 30 days. Each
            # counted opening is a `hire` fact until the clock leaves its window; the hires of
            # a location are chained (`prev`: the arrival number of the one before), and three
            # in a chain fire the rule and empty the window. (One cross-fact comparison per
            # join: durable_rules reads past its expression array when a join with two of them,
            # e.g. `group == h1.group & n > h1.n`, short-circuits: the known out-of-bounds read,
            # which crashed this translation now and then.)
            @when_all(c.ev << ev & (m.type == "signal.hiring") & (m.department == "sales") & +m.location,
                      none((m.kind == "module") & (m.module == "onboarding")),
                      none((m.kind == "cooldown") & (m.rule == "onboarding") & (m.group == c.ev.location) & last("ev")))
            @guard
            def onboarding_count(c: Any) -> None:
                e = c.ev._d
                chain = (c.s.sid, orjson.dumps(e["location"]))
                prev = self.hires.get(chain, 0)
                self.hires[chain] = e["n"]
                _assert(c, {**_trig(e), "id": f"hire:{e['eid']}", "kind": "hire", "group": e["location"],
                            "n": e["n"], "prev": prev, "drop_after": e["t"] + ONBOARDING["within"]})

            @when_all(c.h << (m.kind == "hire"), c.clk << (m.kind == "clock") & (m.t > c.h.drop_after) & last("h"))
            @guard
            def onboarding_window(c: Any) -> None:
                _retract(c, c.h.id)

            @when_all(c.h1 << (m.kind == "hire"),
                      c.h2 << (m.kind == "hire") & (m.prev == c.h1.n) & last("h1"),
                      c.h3 << (m.kind == "hire") & (m.prev == c.h2.n) & last("h2"))
            @guard
            def onboarding_fire(c: Any) -> None:
                h = dict(c.h3._d)
                group = h["group"]
                emit(c.s.sid, "propose-onboarding", "match", h["tt"], {"location": group}, h,
                     (h["tid"], h["ttype"], h["tt"]), None)
                for fact in (c.h1, c.h2, c.h3):
                    _retract(c, fact.id)
                _assert(c, {"id": f"cooldown:onboarding:{group}", "kind": "cooldown", "rule": "onboarding",
                            "group": group, "until": h["tt"] + ONBOARDING["cooldown"]})

        _, definition = rs.define()
        lang._rulesets.pop(name, None)  # registered on our own host, not durable's global one
        return definition

    # Action helpers (run inside durable_rules actions).

    def _guard(self, action: Callable[[Any], None]) -> Callable[[Any], None]:
        """durable_rules swallows an action's exception into the state: record it instead."""

        def run(c: Any) -> None:
            try:
                action(c)
            except Exception:
                self.errors.append(f"{action.__name__}: {traceback.format_exc()}")

        run.__name__ = action.__name__
        return run

    def _emit(self, sid: str, rule: str, outcome: str, at: int, subject: dict[str, Any], trig: dict[str, Any],
              event: Ref | None, deadline: int | None, *, reason: str | None = None, late_by: int | None = None,
              periods_missed: int | None = None, roi: Any = None) -> None:
        key = self.keys[sid]
        extra = {"late_by": late_by, "periods_missed": periods_missed, "roi": roi}
        do, values = params(rule, outcome, key, self.facts[sid], trig, at, deadline, reason, extra)
        trigger = {"id": trig["tid"], "type": trig["ttype"], "time": rfc3339(trig["tt"])}
        ident = hashlib.sha256(orjson.dumps([PLAYBOOK, rule, outcome, 0, key, subject, trig["tid"], at],
                                            option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
        self.counts[(rule, outcome)] += 1
        self.write({
            "id": ident, "playbook": PLAYBOOK, "rule": rule, "outcome": outcome, "reason": reason, "do": do,
            "at": rfc3339(at), "key": key, "subject": subject,
            "deadline": None if deadline is None else rfc3339(deadline), "trigger": trigger,
            "event": None if event is None else {"id": event[0], "type": event[1], "time": rfc3339(event[2])},
            "params": values,
        })

    def _fulfil(self, c: Any, rule: str, subject: dict[str, Any]) -> None:
        """An expected event closes the obligation: met while open, late once breached."""
        e, ob = c.ev, dict(c.ob._d)
        ref = (e.eid, e.type, e.t)
        if ob["state"] == "open":
            self._emit(c.s.sid, rule, "met", e.t, subject, ob, ref, ob["deadline"])
        else:
            self._emit(c.s.sid, rule, "late", e.t, subject, ob, ref, ob["deadline"], late_by=e.t - ob["breach_at"])
        _retract(c, ob["id"])

    def _breach(self, c: Any, rule: str, subject: dict[str, Any], at: int, event: Ref | None, expire: int,
                reason: str = "deadline") -> None:
        ob = dict(c.ob._d)
        self._emit(c.s.sid, rule, "breach", at, subject, ob, event, ob["deadline"], reason=reason)
        ob.update(state="breached", breach_at=at, expire_at=at + expire)
        _replace(c, ob)

    def _qualify(self, c: Any) -> None:
        e, cad = c.ev, dict(c.cad._d)
        ref = (e.eid, e.type, e.t)
        if cad["missed"]:
            self._emit(c.s.sid, "qbr-every-90d", "late", e.t, {}, cad, ref, cad["first_missed"],
                       late_by=e.t - cad["first_missed"], periods_missed=cad["missed"])
        else:
            self._emit(c.s.sid, "qbr-every-90d", "met", e.t, {}, cad, ref, cad["due"], periods_missed=0,
                       roi=e.roi_usd)
        cad.update(missed=0, first_missed=0, tid=e.eid, ttype=e.type, tt=e.t)
        _replace(c, _period(cad, e.t))

    # The driver.

    def _place(self, key: Any) -> tuple[str, str]:
        text = key if isinstance(key, str) else orjson.dumps(key).decode()
        place = self.places.get(text)
        if place is not None:
            return place
        sid = f"{self.batch}|{text}" if self.batch else text
        h = fnv1_32(sid)
        # The last ruleset takes the account unless it is full or holds a sid of the same
        # hash (durable_rules would give both accounts one state): then a new ruleset.
        if not self.shards or len(self.shards[-1][1]) >= self.shard_size or h in self.shards[-1][1]:
            name = f"us_retention_{len(self.shards)}"
            self.host.register_rulesets({name: self._definition(name)})
            self.shards.append((name, set()))
        name, hashes = self.shards[-1]
        hashes.add(h)
        place = self.places[text] = (name, sid)
        self.keys[sid] = key
        self.facts[sid] = Facts()
        return place

    def _call(self, method: Callable[[str, dict[str, Any]], Any], name: str, fact: dict[str, Any]) -> None:
        with contextlib.suppress(durable_engine.MessageNotHandledException):  # no rule matched: stored all the same
            method(name, fact)
        if self.errors:
            raise ActionError("\n".join(self.errors))

    def advance(self, name: str, sid: str, t: int) -> None:
        """Move an account's clock fact to ``t``: instants strictly before ``t`` fire."""
        old = self.clocks.get(sid)
        if old is not None and t <= old:
            return
        if old is not None:
            self._call(self.host.retract_fact, name, {"sid": sid, "id": "clock"})
        self.clocks[sid] = t
        self._call(self.host.assert_fact, name, {"sid": sid, "id": "clock", "kind": "clock", "t": t, "one": 1})

    def feed(self, key: Any, etype: str, t: int, event: dict[str, Any]) -> None:
        """One event of a posted type, in time order: clock, assert, retract."""
        name, sid = self._place(key)
        self.advance(name, sid, t)
        eid = event["id"]
        self.serial += 1
        fact: dict[str, Any] = {"sid": sid, "id": f"ev:{eid}", "eid": eid, "kind": "ev", "type": etype, "t": t,
                                "n": self.serial, "one": 1}
        for field in FIELDS[etype]:
            value = event.get(field)
            if value is None:
                continue  # a missing field is null: absent from the fact
            if field == "roi":
                usd = _num(value.get("value_usd")) if isinstance(value, dict) else None
                if usd is not None:
                    fact["roi_usd"] = usd
            elif field == "internal":
                if isinstance(value, bool):
                    fact[field] = value
            else:
                fact[field] = value
        self._call(self.host.assert_fact, name, fact)
        self._call(self.host.retract_fact, name, {"sid": sid, "id": f"ev:{eid}"})

    def finish(self, until: int) -> None:
        for name, sid in list(self.places.values()):
            self.advance(name, sid, until)

    def new_batch(self) -> None:
        """Forget the accounts: the next events start from fresh states (``--serve``)."""
        self.batch += 1
        self.places.clear()
        self.keys.clear()
        self.facts.clear()
        self.clocks.clear()
        self.hires.clear()


def _assert(c: Any, fact: dict[str, Any]) -> None:
    fact["one"] = 1
    with contextlib.suppress(durable_engine.MessageNotHandledException):
        c.assert_fact(fact)


def _retract(c: Any, ident: str) -> None:
    with contextlib.suppress(durable_engine.MessageNotHandledException):
        c.retract_fact({"id": ident})


def _replace(c: Any, fact: dict[str, Any]) -> None:
    fact = {k: v for k, v in fact.items() if k != "sid"}
    _retract(c, fact["id"])
    _assert(c, fact)


def _period(cad: dict[str, Any], start: int) -> dict[str, Any]:
    """A new QBR period from ``start``: its due instant and, inside the period, its reminder."""
    due = start + QBR["every"]
    remind_at = due - QBR["remind_before"]
    cad.update(due=due, remind_at=remind_at, reminded=0 if remind_at > start else 1)
    return cad


def _trig(d: dict[str, Any]) -> dict[str, Any]:
    """A signal's trigger (the event itself) with the fields its parameters read."""
    trig = {"tid": d["eid"], "ttype": d["type"], "tt": d["t"]}
    for field in ("region", "country", "location"):
        if d.get(field) is not None:
            trig[field] = d[field]
    return trig


# --- reading events ---------------------------------------------------------------------


def parse_time(value: Any) -> int | None:
    """An event time as microseconds (RFC 3339, naive = playbook timezone, or epoch seconds)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value * US
    if isinstance(value, float):
        return round(value * US) if value == value and abs(value) < 1e12 else None
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=TZ)
    return (dt - _EPOCH) // timedelta(microseconds=1)


class Stats:
    def __init__(self) -> None:
        self.read = 0
        self.skipped = 0
        self.no_key = 0
        self.posted = 0
        self.until: int | None = None


def drive(translation: Translation, events: Iterable[Any], stats: Stats, until: int | None = None) -> None:
    """Feed events (in time order) to the translation, then move every clock to ``until``."""
    last: int | None = None
    for event in events:
        stats.read += 1
        if not isinstance(event, dict):
            stats.skipped += 1
            continue
        etype = event.get("type")
        t = parse_time(event.get("time"))
        if not isinstance(etype, str) or not etype or t is None:
            stats.skipped += 1
            continue
        if until is not None and t > until:
            continue
        if last is not None and t < last:
            raise SystemExit(f"us_retention.py: event {stats.read} is earlier than the one before: "
                             "the log must be in time order")
        last = t if last is None or t > last else last
        key = event.get("account")
        if key is None:
            stats.no_key += 1
            continue
        if etype not in FIELDS:
            continue
        if not isinstance(event.get("id"), str):
            raise SystemExit(f"us_retention.py: event {stats.read} has no string id (durable_rules needs one)")
        stats.posted += 1
        translation.feed(key, etype, t, event)
    end = until if until is not None else last
    stats.until = end
    if end is not None:
        translation.finish(end)


def read_jsonl(path: str, limit: int | None) -> Iterator[Any]:
    with open(path, "rb", buffering=1 << 20) as f:
        n = 0
        for line in f:
            if not line.strip():
                continue
            if limit is not None and n >= limit:
                return
            n += 1
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                yield None


def serve(stdin: Any, stdout: Any) -> int:
    """One JSON request per line: ``{"events": [...], "until": TIME?}`` -> ``{"actions": [...]}``.

    Each batch starts from fresh states and is sorted stably by time first (the
    batch semantics of ``Engine.run``).
    """
    actions: list[dict[str, Any]] = []
    translation = Translation(actions.append)
    for line in stdin:
        if not line.strip():
            continue
        request = orjson.loads(line)
        translation.new_batch()
        actions.clear()
        events = list(request["events"])
        events.sort(key=lambda e: (parse_time(e.get("time")) if isinstance(e, dict) else None) or 0)
        until = request.get("until")
        drive(translation, events, Stats(), None if until is None else parse_time(until))
        stdout.write(orjson.dumps({"actions": actions}).decode() + "\n")
        stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="The us-retention playbook on durable_rules (a baseline and an oracle).")
    ap.add_argument("log", nargs="?", help="JSON Lines event log, in time order")
    ap.add_argument("--out", help="write the actions here (JSON Lines; default: stdout)")
    ap.add_argument("--limit", type=int, help="read only the first N events of the log")
    ap.add_argument("--until", help="end of the run (default: the greatest event time)")
    ap.add_argument("--shard-size", type=int, default=SHARD_SIZE,
                    help=f"accounts per ruleset (default {SHARD_SIZE}; durable_rules allows {MAX_STATES})")
    ap.add_argument("--serve", action="store_true", help="answer JSON requests on stdin (tests)")
    ap.add_argument("--parameters", action="store_true",
                    help="print the playbook's numbers this translation encodes, as JSON (tests)")
    args = ap.parse_args(argv)
    if args.serve:
        return serve(sys.stdin, sys.stdout)
    if args.parameters:
        print(orjson.dumps(PARAMETERS).decode())
        return 0
    if not args.log:
        ap.error("a LOG is needed (or --serve)")
    until = None
    if args.until is not None:
        until = parse_time(args.until)
        if until is None:
            ap.error(f"invalid --until: {args.until}")
    started = time.perf_counter()
    out = open(args.out, "wb") if args.out else sys.stdout.buffer  # noqa: SIM115 (closed below)
    dumps = orjson.dumps
    try:
        translation = Translation(lambda record: out.write(dumps(record) + b"\n"), shard_size=args.shard_size)
        stats = Stats()
        drive(translation, read_jsonl(args.log, args.limit), stats, until)
    finally:
        if args.out:
            out.close()
        else:
            out.flush()
    elapsed = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    outcomes = ", ".join(f"{rule} {outcome} {n}" for (rule, outcome), n in sorted(translation.counts.items()))
    print(f"durable_rules: {stats.read} events read ({stats.skipped} skipped, {stats.no_key} without account), "
          f"{stats.posted} posted as facts; {len(translation.places)} accounts in {len(translation.shards)} "
          f"ruleset{'' if len(translation.shards) == 1 else 's'}; "
          f"{sum(translation.counts.values())} actions ({outcomes}); {elapsed:.2f} s, "
          f"{stats.read / elapsed if elapsed else 0:,.0f} events/s, peak RSS {rss:.0f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
