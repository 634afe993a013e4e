"""Properties of the SLA-policy additions (issue 13), for a playbook using all of them together:
targets by case and by template, deadlines at a date with a negative offset, pause and resume,
reminders, escalation ladders (percentages, durations, past 100 %), expire by template, a
cadence's reminder by case; business-hours calendars with holidays, in two zones with DST."""

from __future__ import annotations

import contextlib
import json
import os
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Engine, EngineError, load_playbook_text
from engine.durable import DurableRun
from engine.store import SQLiteStore

PLAYBOOK_TEXT = """
playbook: sla-props
version: 1
timezone: America/New_York
calendars:
  support:
    hours: {mon-fri: "09:00-17:00"}
    holidays: [2026-03-09, 2026-10-30]
  berlin:
    timezone: Europe/Berlin
    hours: {mon-fri: ["09:00-12:00", "13:00-17:00"]}
    holidays: [2026-03-30, 2026-10-26]
facts:
  sla: {from: account.updated, value: sla}
  cal: {from: account.updated, value: cal}
rules:
  - id: ticket
    when: ticket.created
    expect:
      type: agent.reply
      same: [ticket]
      within: {by: priority, cases: {P1: 1h, P2: 8h, 3: 2h}, default: 1d}
      calendar: "{{ coalesce(facts.cal, 'support') }}"
    pause: {type: ticket.status, match: {status: pending}}
    resume: {type: ticket.status, match: {status: open}}
    remind_before: {by: priority, cases: {P1: 20m}, default: 2h}
    expire: 2d
    actions:
      on_progress:
        - {at: 50%, actions: [{do: nudge, stage: "{{ stage }}", paused: "{{ paused_for }}"}]}
        - {at: 3h, actions: [{do: check}]}
        - {at: 150%, actions: [{do: escalate, to: lead}]}
      on_due_soon: [{do: remind, due: "{{ deadline }}"}]
      on_breach: [{do: escalate, paused: "{{ paused_for }}"}]
      on_met: [{do: ok, paused: "{{ paused_for }}"}]
      on_late: [{do: sorry, late: "{{ late_by }}"}]

  - id: renewal
    when: contract.signed
    expect:
      type: renewal.outreach
      deadline: {at: "{{ trigger.ends }}", offset: -2d}
      calendar: berlin
    pause: {type: contract.hold}
    resume: {type: contract.active}
    remind_before: 1d
    expire: 1d
    actions:
      on_progress:
        - {at: 4h, actions: [{do: prepare}]}
        - {at: 200%, actions: [{do: escalate, to: vp}]}
      on_due_soon: [{do: remind}]
      on_breach: [{do: escalate, due: "{{ local(deadline, '%a %H:%M') }}"}]
      on_met: [{do: ok}]
      on_late: [{do: apologise}]

  - id: question
    when: question.asked
    overlap: each
    expect:
      type: question.answered
      same: [question]
      within: "{{ coalesce(facts.sla, '3h') }}"
      before: {type: question.closed}
    pause: {type: question.waiting}
    resume: {type: question.active}
    expire: "{{ coalesce(trigger.keep, '1d') }}"
    actions:
      on_progress:
        - {at: 25%, actions: [{do: nudge}]}
        - {at: 1d, actions: [{do: check, paused: "{{ paused_for }}"}]}
        - {at: 300%, actions: [{do: escalate}]}
      on_breach: [{do: escalate, reason: "{{ reason }}"}]
      on_met: [{do: ok}]
      on_late: [{do: sorry}]

  - id: chat
    when: chat.started
    expect: {type: chat.answered, same: [chat], before: {type: chat.closed}}
    expire: 1d
    pause: {type: chat.away}
    resume: {type: chat.back}
    actions:
      on_progress:
        - {at: 2h, actions: [{do: nudge}]}
        - {at: 1d, actions: [{do: last, paused: "{{ paused_for }}"}]}
      on_breach: [{do: escalate}]
      on_met: [{do: ok}]
      on_late: [{do: sorry}]

  - id: checkin
    every: 2d
    calendar: support
    remind_before: {by: tier, cases: {gold: 1d}, default: 4h}
    start: {type: onboarded}
    stop: {type: churned}
    expect: {type: checkin.held}
    actions:
      on_due_soon: [{do: remind}]
      on_breach: [{do: escalate}]
      on_met: [{do: ok}]
      on_late: [{do: sorry}]
"""
PLAYBOOK = load_playbook_text(PLAYBOOK_TEXT, "sla-props.yaml")

# Starts near the DST changes: US spring (Mar 8), EU spring (Mar 29), EU and US autumn (Oct 25, Nov 1).
BASES = [int(datetime(2026, 3, 5, 5, tzinfo=UTC).timestamp()),
         int(datetime(2026, 3, 26, 5, tzinfo=UTC).timestamp()),
         int(datetime(2026, 10, 23, 4, tzinfo=UTC).timestamp())]
QUARTERS = 8 * 96  # eight days of quarter hours
PAUSES = {"ticket": ("ticket.status", {"status": "pending"}, {"status": "open"}, "ticket"),
          "chat": ("chat.away", {}, None, "chat"),
          "renewal": ("contract.hold", {}, None, None),
          "question": ("question.waiting", {}, None, "question")}
RESUME_TYPE = {"ticket": "ticket.status", "renewal": "contract.active", "question": "question.active",
               "chat": "chat.back"}


def _ends(base: int, choice: tuple[int, int, int]) -> Any:
    """A contract end: a date, an RFC 3339 time in another zone, or epoch seconds."""
    kind, days, quarter = choice
    t = base + days * 86400 + quarter * 900
    if kind == 0:
        return (datetime.fromtimestamp(t, UTC) - timedelta(hours=5)).date().isoformat()
    if kind == 1:
        return (datetime.fromtimestamp(t, UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat() + "+01:00"
    return t


FIELDS: dict[str, Any] = {
    "ticket.created": {"ticket": st.sampled_from(["t1", "t2"]),
                       "priority": st.sampled_from(["P1", "P2", 3, "3", "P9", None])},
    "agent.reply": {"ticket": st.sampled_from(["t1", "t2"])},
    "ticket.status": {"ticket": st.sampled_from(["t1", "t2"]), "status": st.sampled_from(["pending", "open"])},
    "contract.signed": {"ends": st.tuples(st.integers(0, 2), st.integers(0, 9), st.integers(0, 95))},
    "renewal.outreach": {},
    "contract.hold": {},
    "contract.active": {},
    "question.asked": {"question": st.sampled_from(["q1", "q2"]), "keep": st.sampled_from(["6h", "2d", None])},
    "question.answered": {"question": st.sampled_from(["q1", "q2"])},
    "question.closed": {"question": st.sampled_from(["q1", "q2"])},
    "question.waiting": {"question": st.sampled_from(["q1", "q2"])},
    "question.active": {"question": st.sampled_from(["q1", "q2"])},
    "account.updated": {"sla": st.sampled_from(["30m", "2h", "1d", "soon", None]),
                        "cal": st.sampled_from(["support", "support", "berlin", "nowhere", None])},
    "onboarded": {"tier": st.sampled_from(["gold", "silver"])},
    "chat.started": {"chat": st.sampled_from(["c1", "c2"])},
    "chat.answered": {"chat": st.sampled_from(["c1", "c2"])},
    "chat.closed": {"chat": st.sampled_from(["c1", "c2"])},
    "chat.away": {"chat": st.sampled_from(["c1", "c2"])},
    "chat.back": {"chat": st.sampled_from(["c1", "c2"])},
    "checkin.held": {},
    "churned": {},
}
TYPES = sorted(FIELDS)
# Pauses and resumes drawn more often: most obligations see some.
WEIGHTED = TYPES + ["ticket.status"] * 3 + ["contract.hold", "contract.active"] * 2 + \
    ["question.waiting", "question.active"] * 2 + ["ticket.created", "agent.reply", "question.asked"]


@st.composite
def event_st(draw: Any, base: int, span: int = QUARTERS) -> dict[str, Any]:
    etype = draw(st.sampled_from(WEIGHTED))
    jitter = draw(st.sampled_from([0, 0, 0, 0, 1, 0.25]))  # mostly on quarter hours, as deadlines are
    event: dict[str, Any] = {"type": etype, "time": base + draw(st.integers(0, span)) * 900 + jitter,
                             "account": draw(st.sampled_from(["a", "b"]))}
    for name, values in FIELDS[etype].items():
        value = draw(values)
        if name == "ends":
            value = _ends(base, value)
        if value is not None:
            event[name] = value
    return event


STORIES = {  # rule -> trigger, pause, resume, closing events, the subject field and its value
    "ticket": ("ticket.created", ("ticket.status", {"status": "pending"}), ("ticket.status", {"status": "open"}),
               ["agent.reply"], "ticket", "t1"),
    "renewal": ("contract.signed", ("contract.hold", {}), ("contract.active", {}), ["renewal.outreach"], None, None),
    "question": ("question.asked", ("question.waiting", {"question": "q1"}), ("question.active", {"question": "q1"}),
                 ["question.answered", "question.closed"], "question", "q1"),
    "chat": ("chat.started", ("chat.away", {}), ("chat.back", {}), ["chat.answered", "chat.closed"], "chat", "c1"),
}


@st.composite
def story_st(draw: Any, base: int, span: int) -> list[dict[str, Any]]:
    """An obligation's life: its trigger, then pauses and resumes (mostly alternating) and
    perhaps its reply, at times after it."""
    rule = draw(st.sampled_from(sorted(STORIES)))
    trigger_type, (ptype, pmatch), (rtype, rmatch), closers, field, value = STORIES[rule]
    t = base + draw(st.integers(0, span // 4)) * 3600  # on the hour: stages on closings
    account = draw(st.sampled_from(["a", "b"]))
    trigger = {"type": trigger_type, "time": t, "account": account}
    for name, values in FIELDS[trigger_type].items():
        v = draw(values)
        if name == "ends":
            v = _ends(base, v)
        if v is not None:
            trigger[name] = v
    if field is not None:
        value = draw(st.sampled_from([value, value[0] + "2"]))
        trigger[field] = value
    events = [trigger]
    paused = False
    for _ in range(draw(st.integers(0, 5))):
        t += draw(st.integers(0, 40)) * 900
        kind = draw(st.sampled_from(["toggle", "toggle", "toggle", "pause", "resume", "close"]))
        if kind == "close":
            etype, match = draw(st.sampled_from(closers)), {}
        elif (kind == "toggle" and not paused) or kind == "pause":
            etype, match = ptype, pmatch
        else:
            etype, match = rtype, rmatch
        paused = etype == ptype if etype in (ptype, rtype) else paused
        e = {"type": etype, "time": t, "account": account, **match}
        if "question" in match:
            e["question"] = value
        if field is not None:
            e[field] = value
        events.append(e)
    return events


@st.composite
def log_st(draw: Any, max_size: int = 30) -> list[dict[str, Any]]:
    """Events with ids, in time order (equal times in the order drawn): a few obligations'
    stories among other events."""
    base = draw(st.sampled_from(BASES))
    span = draw(st.sampled_from([QUARTERS, QUARTERS // 4]))  # eight days, or two
    events = [e for story in draw(st.lists(story_st(base, span), max_size=3)) for e in story]
    events += draw(st.lists(event_st(base, span), max_size=max_size))
    return sorted(({**e, "id": f"e{i}"} for i, e in enumerate(events)), key=lambda e: e["time"])


def _lines(actions: list[Any]) -> list[str]:
    return [a.to_json() for a in actions]


def _batch(events: list[dict[str, Any]], until: Any = None) -> list[str]:
    return _lines(Engine(PLAYBOOK).run(events, until=until))


# SLA_PROPERTY_EXAMPLES=2000 for a longer hunt (40 keep the suite fast).
EXAMPLES = int(os.environ.get("SLA_PROPERTY_EXAMPLES", "40"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# -- pausing for no time changes nothing ---------------------------------------------------


@SETTINGS
@given(log_st(), st.data())
def test_a_pause_of_no_time_changes_nothing(events: list[dict[str, Any]], data: Any) -> None:
    """A pause and a resume at one instant, inserted anywhere (but where the obligation is
    paused already): the same actions, byte for byte (paused_for stays 0)."""
    until = events[-1]["time"] + 3 * 86400 if events else None
    whole = _batch(events, until)
    assert _batch(_with_zero_pauses(events, whole, data), until) == whole


def _with_zero_pauses(events: list[dict[str, Any]], whole: list[str], data: Any) -> list[dict[str, Any]]:
    """``events`` with pauses and resumes at one instant inserted (not where a pause is
    under way), at any instant or where the actions ``whole`` (of ``events``) are."""
    base = events[0]["time"] if events else BASES[0]
    # The instants where things happen to the obligations of the log (a stage, a reminder,
    # a deadline, a trigger), or any quarter hour.
    instants = [(a["rule"], a["key"], a["subject"], _us(a["at"]) / 10**6) for a in map(json.loads, whole)
                if a["rule"] in PAUSES]
    inserted = list(events)
    for n in range(data.draw(st.integers(1, 3))):
        if instants and data.draw(st.booleans()):
            rule, account, subject, t = data.draw(st.sampled_from(instants))
        else:
            rule = data.draw(st.sampled_from(sorted(PAUSES)))
            t = base + data.draw(st.integers(0, QUARTERS)) * 900
            account = data.draw(st.sampled_from(["a", "b"]))
            subject = {}
        etype, pause_match, resume_match, same = PAUSES[rule]
        pause = {"type": etype, "time": t, "account": account, "id": f"z{n}p", **pause_match}
        resume = {"type": RESUME_TYPE[rule], "time": t, "account": account, "id": f"z{n}r", **(resume_match or {})}
        if same is not None:
            pause[same] = resume[same] = subject.get(same) or data.draw(
                st.sampled_from({"ticket": ["t1", "t2"], "question": ["q1", "q2"], "chat": ["c1", "c2"]}[rule]))
        # Anywhere among the events of that instant (the engine sorts by time, stably).
        first = sum(1 for e in inserted if e["time"] < t)
        last = sum(1 for e in inserted if e["time"] <= t)
        i = data.draw(st.integers(first, last))
        if _paused(inserted[:i], t, rule, account, same and pause[same]):
            continue  # a resume there would end a pause under way: not a pause of no time
        # No other pause or resume of that obligation between the two (it would pause it
        # for real, or end a pause).
        stop = next((k for k in range(i, last) if inserted[k]["type"] in (etype, RESUME_TYPE[rule])
                     and inserted[k]["account"] == account), last)
        j = data.draw(st.integers(i, stop))
        inserted[j:j] = [resume]  # the resume after the pause, both at t (anywhere in the input)
        inserted[i:i] = [pause]
    return inserted


def _paused(events: list[dict[str, Any]], t: float, rule: str, account: str, subject: str | None) -> bool:
    """Is an obligation of ``rule`` for that account and subject paused once ``events`` are
    processed and the clock has reached ``t``?"""
    engine = Engine(PLAYBOOK)
    engine.run(events, until=t)
    for p in engine.snapshot()["playbooks"]:
        for ob in p["state"]["rules"][rule]["obligations"]:
            if ob["key"] == account and ob["paused_at"] is not None and \
                    (subject is None or subject in ob["subject"].values()):
                return True
    return False


SUPPORT_ONLY = load_playbook_text(PLAYBOOK_TEXT.replace("calendar: \"{{ coalesce(facts.cal, 'support') }}\"",
                                                      "calendar: support"), "sla-props.yaml")


def _without_paused(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        a = json.loads(line)
        a.pop("paused_for", None)
        a["params"].pop("paused", None)
        out.append(json.dumps(a))
    return out


@SETTINGS
@given(log_st(), st.data())
def test_a_pause_in_closed_hours_changes_only_paused_for(events: list[dict[str, Any]], data: Any) -> None:
    """On a business-hours calendar, a pause and its resume inside one closed span (after a
    closing, up to the next opening, in a night, a weekend or a holiday): no open time passes,
    so the same actions come out but for the time paused they tell."""
    rule = data.draw(st.sampled_from(["ticket", "renewal"]))  # on support (New York), on Berlin's split hours
    calendar = SUPPORT_ONLY.calendars["support" if rule == "ticket" else "berlin"]
    until = events[-1]["time"] + 4 * 86400 if events else None
    whole = _lines(Engine(SUPPORT_ONLY).run(events, until=until))
    base = events[0]["time"] if events else BASES[0]
    p = base + data.draw(st.integers(0, QUARTERS)) * 900
    r = p + data.draw(st.integers(1, 40)) * 900
    if calendar.working_us(p * 10**6, r * 10**6) or calendar.is_open(p * 10**6) or \
            calendar.working_us((p - 1) * 10**6, p * 10**6):
        return  # open time between them, or the pause at a closing (something may be due then)
    account = data.draw(st.sampled_from(["a", "b"]))
    etype, pause_match, resume_match, same = PAUSES[rule]
    subject = data.draw(st.sampled_from(["t1", "t2"])) if same else None
    if any(e["type"] in (etype, RESUME_TYPE[rule]) and e["account"] == account and e.get("ticket") == subject
           and p <= e["time"] <= r for e in events):
        return
    i = sum(1 for e in events if e["time"] <= p)
    if _paused(events[:i], p, rule, account, subject):
        return
    j = sum(1 for e in events if e["time"] < r)
    pause = {"type": etype, "time": p, "account": account, "id": "zp", **pause_match}
    resume = {"type": RESUME_TYPE[rule], "time": r, "account": account, "id": "zr", **(resume_match or {})}
    if same:
        pause[same] = resume[same] = subject
    inserted = events[:i] + [pause] + events[i:j] + [resume] + events[j:]
    got = _lines(Engine(SUPPORT_ONLY).run(inserted, until=until))
    assert _without_paused(got) == _without_paused(whole)


# -- the ladder's stages, checked against the event log ------------------------------------


def _obligation(action: dict[str, Any]) -> tuple[str, str, str, str]:
    return (action["rule"], json.dumps(action["key"]), json.dumps(action["subject"], sort_keys=True),
            action["trigger"]["id"])


def _us(text: str) -> int:
    """An action's time, or an event's, in microseconds."""
    if not isinstance(text, str):
        return int(round(text * 10**6))
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# Measured time (hours) of each ticket stage by the trigger's priority (the calendar's open hours).
TICKET_STAGE_HOURS = {"P1": {"50%": 0.5, "3h": 3, "150%": 1.5}, "P2": {"50%": 4, "3h": 3, "150%": 12},
                      3: {"50%": 1, "3h": 3, "150%": 3}}
TICKET_DEFAULT = {"50%": 4, "3h": 3, "150%": 12}
STAGE_INDEX = {"ticket": ["50%", "3h", "150%"], "renewal": ["4h", "200%"], "question": ["25%", "1d", "300%"],
               "chat": ["2h", "1d"]}


def _paused_spans(events: list[dict[str, Any]], rule: str, trigger: dict[str, Any], subject: dict[str, Any],
                  end: int, last: str | None) -> list[tuple[int, int]]:
    """The spans [pause, resume) of an obligation opened by ``trigger`` and open (not
    breached) until ``end`` (an instant) or the event ``last``, from the log's pause and
    resume events (in processing order: the events after the trigger)."""
    etype, pause_match, resume_match, same = PAUSES[rule]
    spans: list[tuple[int, int]] = []
    paused: int | None = None
    stop = 2**62  # a pause under way at the end of the log lasts
    for e in events[events.index(trigger) + 1:]:
        if e["id"] == last or _us(e["time"]) > end:
            stop = end  # a preemption ends a pause (a reply closes the obligation)
            break
        if e["account"] != trigger["account"]:
            continue
        if same is not None and e.get(same) != subject.get(same):
            continue
        is_pause = e["type"] == etype and all(e.get(k) == v for k, v in pause_match.items())
        is_resume = e["type"] == RESUME_TYPE[rule] and all(e.get(k) == v for k, v in (resume_match or {}).items())
        if is_pause and paused is None:
            paused = _us(e["time"])
        elif is_resume and paused is not None:
            spans.append((paused, _us(e["time"])))
            paused = None
    if paused is not None:
        spans.append((paused, stop))
    return spans


@SETTINGS
@given(log_st(max_size=40))
def test_ladder_stages_in_time_order_once_and_never_while_paused_or_closed(events: list[dict[str, Any]]) -> None:
    """For every obligation: each stage at most once; stages in the order of the time they
    measure (ties in the order written); none at or after its met/late; none later than its
    expiry; none while paused (from the pause and resume events of the log)."""
    until = events[-1]["time"] + 4 * 86400 if events else None
    actions = [json.loads(line) for line in _batch(events, until)]
    by_id = {e["id"]: e for e in events}
    expire_h = {"ticket": 48, "renewal": 24, "chat": 24}
    obligations: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for a in actions:
        if a["rule"] != "checkin":
            obligations[_obligation(a)].append(a)
    for ob_actions in obligations.values():
        stages = [a for a in ob_actions if a["outcome"] == "progress"]
        labels = [a["stage"] for a in stages]
        assert len(labels) == len(set(labels)), labels
        rule = ob_actions[0]["rule"]
        trigger = by_id[ob_actions[0]["trigger"]["id"]]
        closing = [a for a in ob_actions if a["outcome"] in ("met", "late")]
        breach = [a for a in ob_actions if a["outcome"] == "breach"]
        assert len(closing) <= 1 and len(breach) <= 1
        assert sum(1 for a in ob_actions if a["outcome"] == "due_soon") <= 1  # one reminder at most
        for a in stages:
            assert a["paused_for"] is not None
            if closing:
                assert _us(a["at"]) < _us(closing[0]["at"]), (a, closing)
            if breach:
                expire = expire_h.get(rule)
                if expire is None:  # the question rule's expire is a template
                    keep = trigger.get("keep")
                    expire = {"6h": 6, "2d": 48, None: 24}[keep]
                assert _us(a["at"]) <= _us(breach[0]["at"]) + expire * 3600 * 10**6, (a, breach)
            elif rule == "chat":  # no deadline: dropped a day after its trigger
                assert _us(a["at"]) <= _us(trigger["time"]) + 86400 * 10**6, a
        # In the order of the time each stage measures: ties in the order written.
        if rule == "ticket":
            hours = TICKET_STAGE_HOURS.get(trigger.get("priority"), TICKET_DEFAULT)  # type: ignore[call-overload]
            order = sorted(STAGE_INDEX[rule], key=lambda s: (hours[s], STAGE_INDEX[rule].index(s)))
            fired = sorted(stages, key=lambda a: (_us(a["at"]), STAGE_INDEX[rule].index(a["stage"])))
            assert [a["stage"] for a in fired] == [s for s in order if s in labels]
        times = [_us(a["at"]) for a in stages]
        assert times == sorted(times)  # the output's order is by time
        # Never while paused: the obligation is open (pausable) until its breach or closing.
        end = min([_us(a["at"]) for a in breach + closing] or [2**62])
        # The event that ended the open time (a preemption, a reply), or the trigger itself
        # (due before it was opened: breached at once).
        ender = [a["event"]["id"] for a in sorted(breach + closing, key=lambda a: _us(a["at"])) if a["event"]][:1]
        at_once = bool(breach) and breach[0]["reason"] == "deadline" and end == _us(trigger["time"])
        spans = [] if at_once else _paused_spans(events, rule, trigger, ob_actions[0]["subject"], end,
                                                  ender[0] if ender else None)
        timed = stages + [a for a in ob_actions if a["outcome"] == "due_soon" or a.get("reason") == "deadline"]
        for a in timed:  # what the clock fires: never while paused
            at = _us(a["at"])
            assert not any(p <= at < r for p, r in spans if p < r), (a, spans)
        for a in ob_actions:  # the time paused up to each record
            at = _us(a["at"])
            assert _us(a["paused_for"]) == sum(min(r, at) - p for p, r in spans if p < at), (a, spans)


# -- batch = stream = restored at any cut = a store split at any cut ----------------------


@SETTINGS
@given(log_st(), st.lists(st.integers(0, 30), max_size=3), st.integers(1, 4), st.booleans(), st.data())
def test_batch_stream_and_snapshot_cuts_agree(events: list[dict[str, Any]], cuts: list[int], flush: int,
                                              with_until: bool, data: Any) -> None:
    """One batch, Engine.stream, and runs resumed from Engine.snapshot() at any cut (some
    of them among pauses of no time): the same actions, byte for byte."""
    if data.draw(st.booleans()):
        events = _with_zero_pauses(events, _batch(events), data)
    until = events[-1]["time"] + 5 * 86400 if events and with_until else None
    whole = _batch(events, until)
    assert _lines(list(Engine(PLAYBOOK).stream(events, until=until, flush_every=flush))) == whole
    bounds = sorted({min(c, len(events)) for c in cuts} | {0, len(events)})
    for streamed in (False, True):
        produced = []
        snapshot = None
        for n, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
            engine = Engine(PLAYBOOK)
            if snapshot is not None:
                assert engine.restore(orjson.loads(orjson.dumps(snapshot))) == []
            last = n == len(bounds) - 2
            part_until = until if last else None
            if streamed:
                produced.extend(engine.stream(events[lo:hi], until=part_until, flush_every=flush))
            else:
                produced.extend(engine.run(events[lo:hi], until=part_until))
            snapshot = engine.snapshot()
        produced.sort(key=lambda a: a.sort_key)
        assert _lines(produced) == whole


def _durable(db: str, events: list[dict[str, Any]], until: Any, commit_every: int) -> list[str]:
    out: list[str] = []
    store = SQLiteStore(db)
    try:
        DurableRun(Engine(PLAYBOOK), store, commit_every=commit_every).run(events, emit=out.extend, until=until)
    finally:
        store.close()
    return out


@SETTINGS
@given(log_st(), st.lists(st.integers(0, 30), max_size=3), st.integers(1, 6), st.booleans(), st.data())
def test_a_store_split_into_runs_at_any_cut_equals_one_run(tmp_path: Path, events: list[dict[str, Any]],
                                                           cuts: list[int], commit_every: int, with_until: bool,
                                                           data: Any) -> None:
    """Incremental --db runs (key by key) over a log cut anywhere: the same actions (an
    instant split over two runs is written run by run, so then compared as a multiset)."""
    if data.draw(st.booleans()):
        events = _with_zero_pauses(events, _batch(events), data)
    until = events[-1]["time"] + 5 * 86400 if events and with_until else None
    whole = _batch(events, until)
    bounds = sorted({min(c, len(events)) for c in cuts} | {0, len(events)})
    db = str(tmp_path / f"{uuid.uuid4().hex}.db")
    written: list[str] = []
    for n, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        written.extend(_durable(db, events[lo:hi], until if n == len(bounds) - 2 else None, commit_every))
    split_instant = any(0 < b < len(events) and events[b - 1]["time"] == events[b]["time"] for b in bounds)
    if split_instant:
        assert sorted(written) == sorted(whole)
    else:
        assert written == whole


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(log_st(max_size=20), st.integers(0, 20))
def test_cli_run_db_split_equals_one_run(tmp_path: Path, events: list[dict[str, Any]], cut: int) -> None:
    from click.testing import CliRunner

    from cli.main import main

    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    pb = folder / "sla-props.yaml"
    pb.write_text(PLAYBOOK_TEXT)
    cut = min(cut, len(events))
    while 0 < cut < len(events) and events[cut - 1]["time"] == events[cut]["time"]:
        cut -= 1
    lines: list[str] = []
    for n, part in enumerate((events[:cut], events[cut:])):
        src = folder / f"{n}.jsonl"
        src.write_text("".join(json.dumps(e) + "\n" for e in part))
        r = CliRunner().invoke(main, ["run", str(pb), "--events", str(src), "--db", str(folder / "s.db"), "-q"])
        assert r.exit_code == 0, r.output
        lines.extend(line for line in r.stdout.splitlines() if line)
    assert lines == _batch(events)


# -- order independence and determinism ----------------------------------------------------


def _shuffle(events: list[dict[str, Any]], seed: int, same_key_only: bool) -> list[dict[str, Any]]:
    """A random permutation keeping the relative order of equal-time events (of one key only,
    with ``same_key_only``: keys never see each other's events)."""
    rng = random.Random(seed)
    order = list(range(len(events)))
    rng.shuffle(order)
    group = (lambda e: (e["time"], e["account"])) if same_key_only else (lambda e: e["time"])
    queues: dict[Any, list[int]] = defaultdict(list)
    for i, e in enumerate(events):
        queues[group(e)].append(i)
    its = {g: iter(ix) for g, ix in queues.items()}
    return [events[next(its[group(events[i])])] for i in order]


@SETTINGS
@given(log_st(), st.integers(0, 2**32), st.booleans())
def test_order_independence_and_determinism(events: list[dict[str, Any]], seed: int, same_key_only: bool) -> None:
    whole = _batch(events)
    assert _batch(_shuffle(events, seed, same_key_only)) == whole
    assert _batch([dict(e) for e in events]) == whole
    ids = [json.loads(line)["id"] for line in whole]
    assert len(ids) == len(set(ids))


# -- hostile values in the new fields -------------------------------------------------------

hostile = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "2026-02-30", "2026-03-10T25:00:00Z", "0001-01-01", "0001-01-02", "0001-01-02T00:00:00Z",
                     "8999-12-31", "9999-12-31T23:59:59Z", "10000-01-01", "2026-03-08T02:30:00", "-1d", "0s",
                     "999999d", "499y", "1e400h", "3", "P1", "nan", "1d1d", " 2h ", "{{ x }}"]),
    st.lists(st.sampled_from([1, "P1", None]), max_size=2), st.dictionaries(st.sampled_from(["P1", "a"]), st.integers(), max_size=2),
    st.integers(-62135596800 - 86400, -62135510400 + 86400 * 3),
)


@SETTINGS
@given(st.sampled_from(BASES), st.lists(st.tuples(st.sampled_from(TYPES), st.integers(0, QUARTERS),
                                                  st.dictionaries(st.sampled_from(["ends", "priority", "tier", "keep", "sla", "cal",
                                                                                   "ticket", "question", "status"]),
                                                                  hostile, max_size=4)), max_size=15),
       st.integers(0, 15))
def test_hostile_values_in_the_new_fields_never_escape(tmp_path: Path, base: int, raw: list[tuple[str, int, dict[str, Any]]],
                                                       cut: int) -> None:
    """Odd values where the new fields read the trigger (dates, durations, cases' keys):
    only the engine's own errors escape, in one run, resumed from saved state, and through
    a store split in two runs (which gives what one run gives)."""
    events = [{"type": t, "time": base + q * 900, "account": "a", "id": f"h{i}", **fields}
              for i, (t, q, fields) in enumerate(raw)]
    events.sort(key=lambda e: e["time"])
    cut = min(cut, len(events))
    while 0 < cut < len(events) and events[cut - 1]["time"] == events[cut]["time"]:
        cut -= 1
    db = str(tmp_path / f"{uuid.uuid4().hex}.db")
    stored = _durable(db, events[:cut], None, 3) + _durable(db, events[cut:], None, 3)
    assert stored == _batch(events)
    for early in (False, True):
        # Triggers near the first supported instant too (deadlines and reminders before year 1).
        evs = [{**e, "time": e["time"] - base - 62135510400 + 86400} for e in events] if early else events
        engine = Engine(PLAYBOOK)
        actions = engine.run(evs, until=(evs[-1]["time"] + 86400 * 3) if evs else None)
        _lines(actions)
        snapshot = engine.snapshot()
        if _jsonable(snapshot):  # (NaN and lone surrogates are the store's business)
            again = Engine(PLAYBOOK)
            again.restore(orjson.loads(orjson.dumps(snapshot)))
            _lines(again.run([], until=(evs[-1]["time"] + 86400 * 40) if evs else None))


def _jsonable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True


HOSTILE_PLAYBOOK_VALUES = st.sampled_from([
    "-120d", "-0d", "+3d", "-999999d", "-499y", "-180000d", "180000d", "-1e9h", "--1d", "-", "-1w", "-1.5d", "1d-",
    "{{ trigger.x }}", 3, None, [], {"by": "x"}, "-2h30m",
])
HOSTILE_TEMPLATES = st.sampled_from([
    "{{ trigger.ends }}", "{{ 1 }}", "{{ [1, 2] }}", "{{ {'a': 1} }}", "{{ 1 / 0 }}", "{{ none }}", "{{ trigger }}",
    "{{ true }}", "2026-01-01", "2026-13-01", "{{", "x {{ trigger.ends }}", "", "{{ trigger.ends ~ 'x' }}",
])


@settings(max_examples=EXAMPLES * 3 // 2, deadline=None)
@given(HOSTILE_PLAYBOOK_VALUES, HOSTILE_TEMPLATES, HOSTILE_TEMPLATES, st.booleans(),
       st.lists(st.tuples(st.integers(0, QUARTERS), hostile), max_size=6))
def test_hostile_playbook_values_load_or_fail_cleanly(offset: Any, at: str, within: str, calendar: bool,
                                                      raw: list[tuple[int, Any]]) -> None:
    """Offsets, templates and cases of any shape: the playbook loads or fails with an
    EngineError; if it loads, a run over hostile trigger values finishes."""
    text = (
        "playbook: hostile\nversion: 1\ntimezone: Europe/Berlin\n"
        "calendars:\n  c:\n    hours: {mon-fri: '09:00-17:00'}\n    holidays: [2026-03-30]\n"
        "rules:\n"
        "  - id: d\n    when: s\n"
        f"    expect: {{type: o, deadline: {{at: {json.dumps(at)}, offset: {json.dumps(offset)}}}"
        f"{', calendar: c' if calendar else ''}}}\n"
        "    remind_before: 1d\n    pause: {type: p}\n    resume: {type: r}\n"
        f"    expire: {json.dumps(within)}\n"
        "    actions:\n      on_progress: [{at: 50%, actions: [{do: n}]}, {at: 1d, actions: [{do: m}]}]\n"
        "      on_breach: [{do: x, d: '{{ deadline }}'}]\n"
        "  - id: w\n    when: s\n"
        f"    expect: {{type: o, within: {json.dumps(within)}{', calendar: c' if calendar else ''}}}\n"
        f"    remind_before: {{by: trigger.ends, cases: {{1: 1h, 'P1': 2h, true: 3h}}, default: 4h}}\n"
        "    actions: {on_due_soon: [{do: r}], on_breach: [{do: x}]}\n"
    )
    try:
        pb = load_playbook_text(text, "hostile.yaml")
    except EngineError:
        return
    base = BASES[1]
    events = [{"type": t, "time": base + q * 900, "account": "a", "id": f"h{i}", "ends": v, "x": v}
              for i, (q, v) in enumerate(raw) for t in ("s",)]
    events += [{"type": "p", "time": base + 3600, "account": "a"}, {"type": "r", "time": base + 7200, "account": "a"}]
    with contextlib.suppress(EngineError):
        _lines(Engine(pb).run(events, until=base + 40 * 86400))


# -- regressions the properties found ------------------------------------------------------

LADDER_TEXT = """
playbook: ladder-expiry
version: 1
rules:
  - id: answer
    when: asked
    expect: {type: answered, within: 1d}
    expire: 2d
    actions:
      on_progress: [{at: 300%, actions: [{do: escalate}]}]
  - id: open-ended
    when: asked
    expect: {type: answered, before: {type: closed}}
    expire: 2d
    actions:
      on_progress: [{at: 2d, actions: [{do: escalate}]}]
"""


def test_a_stage_at_the_expiry_instant_fires_in_one_run_and_after_a_restore() -> None:
    """A stage at the very instant its obligation expires (breach + expire, or trigger +
    expire without a deadline): the obligation is still awaited then (a reply at that
    instant counts), so the stage fires, in one run and resumed from saved state alike
    (it was dropped after a restore, whose expiry timer came first)."""
    pb = load_playbook_text(LADDER_TEXT, "ladder.yaml")
    t0 = BASES[0]
    events = [{"id": "a", "type": "asked", "time": t0, "account": "x"},
              {"id": "n", "type": "noise", "time": t0 + 86400 + 60, "account": "x"},
              {"id": "z", "type": "noise", "time": t0 + 4 * 86400, "account": "x"}]
    whole = [(a.rule, a.outcome, a.at) for a in Engine(pb).run(events)]
    assert whole == [("open-ended", "progress", (t0 + 2 * 86400) * 10**6),
                     ("answer", "progress", (t0 + 3 * 86400) * 10**6)]
    first = Engine(pb)
    produced = first.run(events[:2])
    second = Engine(pb)
    second.restore(orjson.loads(orjson.dumps(first.snapshot())))
    produced += second.run(events[2:])
    assert [(a.rule, a.outcome, a.at) for a in sorted(produced, key=lambda a: a.sort_key)] == whole


def test_case_keys_written_as_numbers_or_booleans_are_those_values() -> None:
    """`3:` in a table of cases is the number 3 (YAML reads it so), `"3":` the text, `true:`
    the boolean: looked up with the language's equality (it took every key for text, so the
    number 3 found no case and the text "3" found the case of 3)."""
    pb = load_playbook_text("""
playbook: cases
version: 1
rules:
  - id: r
    when: t
    expect: {type: o, within: {by: p, cases: {3: 1h, "4": 2h, true: 3h, 1.5: 4h, null: 5h}, default: 9h}}
    actions: {on_breach: [{do: x}]}
""", "cases.yaml")
    t0 = BASES[0]
    hours = {}
    for i, p in enumerate([3, "3", 3.0, 4, "4", True, 1, 1.5, None, "true"]):
        ev = {"id": f"e{i}", "type": "t", "time": t0, "account": f"k{i}", **({} if p is None else {"p": p})}
        (a,) = Engine(pb).run([ev], until=t0 + 86400)
        hours[repr(p)] = (a.at // 10**6 - t0) // 3600
    assert hours == {"3": 1, "'3'": 9, "3.0": 1, "4": 9, "'4'": 2, "True": 3, "1": 9, "1.5": 4, "None": 5, "'true'": 9}


def test_a_deadline_moved_before_year_one_is_an_expression_error() -> None:
    """`deadline: {at, offset: -400d}` from a date early in year 1 (no calendar): an instant
    that has no RFC 3339 form; it is reported (no obligation opened) instead of crashing the
    run with OverflowError when the breach was written."""
    pb = load_playbook_text("""
playbook: early
version: 1
rules:
  - id: r
    when: s
    expect: {type: o, deadline: {at: "{{ trigger.ends }}", offset: -400d}}
    actions: {on_breach: [{do: x}]}
""", "early.yaml")
    engine = Engine(pb)
    events = [{"type": "s", "time": "2026-01-01T00:00:00Z", "account": "a", "ends": ends, "id": f"e{i}"}
              for i, ends in enumerate(["0001-01-02", -62135510400, "0001-12-01", "0002-03-01"])]
    # The last is due in year 1 (0001-01-25): overdue at once.
    assert [(a.outcome, a.to_json().count('"deadline":"0001-01-25T00:00:00Z"')) for a in engine.run(events)] == [("breach", 1)]
    (problem,) = engine.summary.expression_errors.values()
    assert problem.count == 3 and "400d before '0001-01-02' goes beyond the year 1" in problem.samples[0][1]


def test_reminders_counted_back_near_year_one() -> None:
    """A cadence's or an obligation's reminder counted back in working time from a due date
    early in year 1 is found (a CalendarError escaped the run: the search for it reached
    before year 1); one before year 1 would come before the start: none."""
    pb = load_playbook_text("""
playbook: early
version: 1
calendars:
  c: {hours: {mon-fri: "09:00-17:00"}}
rules:
  - id: cad
    every: 1d
    calendar: c
    remind_before: {by: tier, cases: {gold: 4h}, default: 7h}
    start: {type: onboarded}
    expect: {type: held}
    actions: {on_due_soon: [{do: remind}], on_breach: [{do: escalate}]}
  - id: resp
    when: onboarded
    expect: {type: held, within: 1h, calendar: c}
    remind_before: 30m
    actions: {on_due_soon: [{do: remind}], on_breach: [{do: escalate}]}
""", "early.yaml")
    events = [{"type": "onboarded", "time": "0001-01-02T00:00:00Z", "account": "a", "id": "e1"},
              {"type": "noise", "time": "0001-01-20T00:00:00Z", "account": "a", "id": "e2"}]
    got = [(a.rule, a.outcome, a.at) for a in Engine(pb).run(events)]
    # 0001-01-02 is a Tuesday: the response is due at 10:00, its reminder at 09:30; the
    # cadence is due Wednesday 09:00, its reminder 7h of open time before, Tuesday 10:00
    # (both counted back within year 1: found, where the search failed reaching before it).
    day = -62135510400 * 10**6
    assert ("resp", "due_soon", day + 9 * 3600 * 10**6 + 1800 * 10**6) in got
    assert ("resp", "breach", day + 10 * 3600 * 10**6) in got
    assert ("cad", "due_soon", day + 10 * 3600 * 10**6) in got
    assert ("cad", "breach", day + 86400 * 10**6 + 9 * 3600 * 10**6) in got


def test_instants_beyond_the_year_9999_are_never() -> None:
    """A stage, a deadline after a resume or a calendar deadline that lands after the year
    9999: the stage never fires, the obligation is not opened (the target) or dropped (the
    resume), each reported with the event's place, instead of a CalendarError or an
    OverflowError escaping the run."""
    pb = load_playbook_text("""
playbook: far
version: 1
calendars:
  c: {hours: {mon-fri: "09:00-17:00"}}
  rare: {hours: {mon: "09:00-09:01"}}
rules:
  - id: stage
    when: s
    expect: {type: o, deadline: {at: "{{ trigger.ends }}"}, calendar: c}
    actions:
      on_progress: [{at: 4h, actions: [{do: prepare}]}, {at: 400%, actions: [{do: escalate}]}]
  - id: paused
    when: q
    expect: {type: o, deadline: {at: "{{ trigger.ends }}", offset: 183000d}}
    expire: 183000d
    pause: {type: p}
    resume: {type: r}
    actions: {on_met: [{do: ok}], on_breach: [{do: x}]}
  - id: rare
    when: x
    expect: {type: o, within: {by: n, cases: {1: 180000d}, default: 1d}, calendar: rare}
    actions: {on_breach: [{do: x}]}
""", "far.yaml")
    # Due about 9501-01 (8999-12-31 + 183000d), paused for 182999 days from its trigger: due
    # about 10002 after the resume.
    events = [{"type": "s", "time": "8500-01-01T00:00:00Z", "account": "a", "ends": "8999-01-01", "id": "s"},
              {"type": "q", "time": "8400-01-01T00:00:00Z", "account": "a", "ends": "8999-12-31", "id": "q"},
              {"type": "p", "time": "8400-01-01T00:00:00Z", "account": "a", "id": "p"},
              {"type": "r", "time": (datetime(8400, 1, 1) + timedelta(days=182999)).isoformat() + "Z", "account": "a", "id": "r"},
              {"type": "x", "time": "7000-01-01T00:00:00Z", "account": "a", "n": 1, "id": "x"},
              {"type": "o", "time": "8998-06-01T00:00:00Z", "account": "a", "id": "o"}]
    engine = Engine(pb)
    got = [(a.rule, a.outcome, a.stage) for a in engine.run(events)]
    assert got == [("stage", "progress", "4h")]  # (its 400 % would be near the year 10500)
    errors = engine.summary.expression_errors
    assert "beyond the year 9999: the obligation is dropped" in errors["far: paused resume"].samples[0][1]
    assert errors["far: rare expect.within"].count == 1


def test_prev_in_pause_resume_and_targets_is_before_the_event() -> None:
    """`prev.facts` read only by a pause, a resume, a target by case or template, a deadline's
    `at` or a cadence's reminder: the facts before the event (they were the facts after it,
    the playbook not being taken for one that reads `prev`)."""
    def run(rule: str, events: list[dict[str, Any]]) -> list[tuple[str, int, Any]]:
        pb = load_playbook_text("playbook: p\nversion: 1\nfacts:\n  n: {from: [t, p, r, s], value: '1', collect: count}\n"
                                "rules:\n" + rule, "prev.yaml")
        return [(a.outcome, a.at // 10**6, a.paused_for) for a in Engine(pb).run(events, until=10**6)]

    t, p, r = ({"type": ty, "time": s, "account": "a", "id": ty} for ty, s in (("t", 0), ("p", 600), ("r", 1200)))
    # Pause where n was 1 before the pause, resume where it was 2 before the resume: paused 600 s.
    assert run("""  - id: r
    when: t
    expect: {type: o, within: 1h}
    pause: {type: p, where: "prev.facts.n == 1"}
    resume: {type: r, where: "prev.facts.n == 2"}
    actions: {on_breach: [{do: x}]}
""", [t, p, r]) == [("breach", 4200, 600)]
    # n was 0 before the trigger: 1h by the table's default, 2h by the template, the deadline at 0 + 1h.
    for target in ('within: {by: "prev.facts.n", cases: {1: 5h}, default: 1h}',
                   'within: "{{ 1 + prev.facts.n }}h"', 'deadline: {at: "{{ 3600 * (1 + prev.facts.n) }}"}'):
        assert run(f"""  - id: r
    when: t
    expect: {{type: o, {target}}}
    actions: {{on_breach: [{{do: x}}]}}
""", [t]) == [("breach", 3600, None)], target
    # A cadence's reminder by the facts before its start.
    assert run("""  - id: c
    every: 10h
    remind_before: {by: "prev.facts.n", cases: {0: 1h}, default: 2h}
    start: {type: s}
    expect: {type: o}
    actions: {on_due_soon: [{do: x}]}
""", [{"type": "s", "time": 0, "account": "a", "id": "s"}])[:1] == [("due_soon", 9 * 3600, None)]


def test_a_stage_due_at_a_pause_of_no_time_is_due_then_after_a_restore_too() -> None:
    """A pause and a resume at the closing instant a stage is due at, the state saved right
    after them: resumed from it, the stage fires at that instant, as in one run (re-derived
    from the resume, no time left read on the calendar landed at the next opening)."""
    def t(text: str) -> int:
        return int(datetime.fromisoformat(text).timestamp())

    events = [{"id": "c", "type": "ticket.created", "time": t("2026-03-05T14:00:00-05:00"), "account": "a",
               "ticket": "t2", "priority": "P2"},
              {"id": "p", "type": "ticket.status", "time": t("2026-03-05T17:00:00-05:00"), "account": "a",
               "ticket": "t2", "status": "pending"},
              {"id": "r", "type": "ticket.status", "time": t("2026-03-05T17:00:00-05:00"), "account": "a",
               "ticket": "t2", "status": "open"},
              {"id": "n", "type": "noise", "time": t("2026-03-07T14:00:00-05:00"), "account": "a"}]
    whole = _batch(events)
    assert [(json.loads(x)["stage"], json.loads(x)["at"]) for x in whole if '"progress"' in x][0] == \
        ("3h", "2026-03-05T22:00:00Z")
    first = Engine(PLAYBOOK)
    produced = first.run(events[:3])
    second = Engine(PLAYBOOK)
    second.restore(orjson.loads(orjson.dumps(first.snapshot())))
    produced += second.run(events[3:])
    assert _lines(sorted(produced, key=lambda a: a.sort_key)) == whole


def test_a_paused_obligation_without_deadline_expires_after_its_trigger_when_restored_too(tmp_path: Path) -> None:
    """An obligation without a deadline (`before` only, `expire` written) paused a day after
    its trigger: dropped `expire` after its trigger in one run; resumed from saved state (or a
    store) it was kept until `expire` after the pause, and a late answer was `met`."""
    pb = load_playbook_text("""
playbook: open-ended
version: 1
rules:
  - id: r
    when: asked
    expect: {type: answered, before: {type: closed}}
    expire: 2d
    pause: {type: hold}
    resume: {type: go}
    actions: {on_met: [{do: ok}], on_breach: [{do: x}]}
""", "open-ended.yaml")
    day = 86400
    events = [{"id": "a", "type": "asked", "time": BASES[0], "account": "k"},
              {"id": "h", "type": "hold", "time": BASES[0] + day, "account": "k"},
              {"id": "n", "type": "answered", "time": BASES[0] + 5 * day // 2, "account": "k"}]
    assert Engine(pb).run(events) == []
    first = Engine(pb)
    first.run(events[:2])
    second = Engine(pb)
    second.restore(orjson.loads(orjson.dumps(first.snapshot())))
    assert second.run(events[2:]) == []
    out: list[str] = []
    for part in (events[:2], events[2:]):
        store = SQLiteStore(str(tmp_path / "s.db"))
        try:
            DurableRun(Engine(pb), store).run(part, emit=out.extend)
        finally:
            store.close()
    assert out == []


def test_a_stage_at_the_expiry_instant_fires_whatever_the_order_of_its_timers() -> None:
    """A chat paused at its trigger, the state saved, resumed at that instant: its stage at
    `expire` after the trigger still fires (the resume scheduled it after the restored
    expiry, which closed the obligation first)."""
    t0 = BASES[0]
    events = [{"id": "s", "type": "chat.started", "time": t0, "account": "a", "chat": "c1"},
              {"id": "p", "type": "chat.away", "time": t0, "account": "a", "chat": "c1"},
              {"id": "r", "type": "chat.back", "time": t0, "account": "a", "chat": "c1"},
              {"id": "n", "type": "noise", "time": t0 + 2 * 86400, "account": "a"}]
    whole = _batch(events)
    assert [json.loads(x)["stage"] for x in whole] == ["2h", "1d"]
    for cut in range(1, 4):
        first = Engine(PLAYBOOK)
        produced = first.run(events[:cut])
        second = Engine(PLAYBOOK)
        second.restore(orjson.loads(orjson.dumps(first.snapshot())))
        produced += second.run(events[cut:])
        assert _lines(sorted(produced, key=lambda a: a.sort_key)) == whole, cut
