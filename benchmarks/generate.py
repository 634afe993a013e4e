#!/usr/bin/env python3
"""Generate realistic customer-success event logs as JSON Lines.

    python benchmarks/generate.py --events 1000000 --accounts 2000 --seed 1 --out /tmp/events.jsonl
    python benchmarks/generate.py --events 400 --accounts 8 --seed 7 --start 2026-01-05 --named

Writes exactly ``--events`` events, one JSON object per line, sorted by time (ties in a
fixed, seed-determined order), with the keys ``id``, ``type``, ``time`` (RFC 3339 UTC,
whole seconds, ``Z``), ``account`` and per-type fields. The same arguments always give
the same bytes. Standard library only.

The model (times are US Eastern business hours unless noted):

* accounts with a tier (free/starter/pro/enterprise), a CSM (none on free), ARR and
  seats: an ``account.updated`` snapshot when the account appears, occasional changes
  (CSM reassigned, seats added, tier upgraded);
* ``contract.signed`` ("Day 1") for paying accounts, a renewal a year later, occasional
  ``contract.ended`` (churn) and win-back re-signing; ``invoice.paid`` monthly;
* ``customer.message`` threads (``thread_id``; channel email/slack/chat/phone; slack
  notes sometimes ``internal: true``) answered by ``vendor.reply`` after a log-normal
  delay (median ~1.5 h, a long tail past 4 h, nights and weekends wait for the
  morning, some never answered), with follow-ups and nudges;
* ``qbr.held`` every ~60-120 days from signature, with ``roi: {value_usd, hours_saved}``,
  with a zero ROI, or with no ROI at all (a task list);
* platform incidents hitting one or more accounts: ``incident.opened`` (``incident_id``,
  ``severity``), ``incident.disclosed`` after a delay (or never), ``customer.ticket``
  carrying the ``incident_id`` racing the disclosure, ``incident.resolved``;
* ``signal.expansion`` (``region``, ``country``), ``signal.hiring`` bursts
  (``location``, ``department``), ``module.purchased`` (``module``);
* noise: ``user.login``, ``feature.viewed``, unlinked ``customer.ticket``.

Structural events (snapshots, contracts, QBRs, invoices) follow the accounts and the
time span; the other activities share what is left of the ``--events`` budget, so the
total is N whatever the number of accounts (noise events absorb the rounding). When the
structural events alone exceed N, the log is cut to its first N events (with a warning).

``--named`` uses human-readable account names and, for the first eight (acme, globex,
initech, umbrella, hooli, stark, wayne, soylent), replaces the random structure with a
hand-written scenario that exercises every outcome of every rule of
``playbooks/us-retention.yaml`` (see ``examples/README.md``); random background traffic
(message threads, logins, feature views, tickets, invoices) is added around it.

``--extra-types`` adds four event types, 20 in all (for ``benchmarks/rules_scaling.py``):
``invoice.issued`` before each ``invoice.paid`` (log-normal payment delay, ~4% never paid),
``ticket.resolved`` after ~92% of tickets (delay by priority), ``onboarding.completed`` a few
weeks after ~85% of first signatures, and ``nps.response`` surveys every ~4 months (scores
0-10). Random logins and feature views make room, so the total is still N. It draws from its own random
stream: without it the output is the same bytes as before the option existed.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta

MINUTE = 60
HOUR = 3600
DAY = 86400
LOCAL_TZ = "America/New_York"

TIERS = ("free", "starter", "pro", "enterprise")
TIER_WEIGHTS = (0.30, 0.30, 0.28, 0.12)
TIER_ACTIVITY = {"free": 0.35, "starter": 0.7, "pro": 1.0, "enterprise": 2.2}
TIER_ARR = {"free": (0, 0), "starter": (4_000, 18_000), "pro": (25_000, 95_000), "enterprise": (110_000, 650_000)}
TIER_SEATS = {"free": (1, 10), "starter": (5, 40), "pro": (30, 250), "enterprise": (200, 3000)}
UPGRADE = {"free": "starter", "starter": "pro", "pro": "enterprise"}

CSM_NAMES = ("dana", "lee", "priya", "sam", "alex", "jordan", "morgan", "riley", "casey", "taylor",
             "jamie", "avery", "quinn", "rowan", "noor", "mateo", "yuki", "kofi", "ines", "omar")
AGENTS = ("support-ana", "support-ben", "support-chloe", "support-dev", "support-eli", "support-fay")
NAMED = (
    # name, tier, csm, arr, seats
    ("acme", "enterprise", "dana@example.com", 240_000, 400),
    ("globex", "pro", "lee@example.com", 60_000, 120),
    ("initech", "starter", None, 9_000, 25),
    ("umbrella", "free", None, 0, 5),
    ("hooli", "pro", "priya@example.com", 85_000, 150),
    ("stark", "enterprise", "sam@example.com", 410_000, 800),
    ("wayne", "enterprise", "dana@example.com", 180_000, 300),
    ("soylent", "pro", "lee@example.com", 48_000, 90),
)
EXTRA_NAMES = ("tyrell", "cyberdyne", "oscorp", "wonka", "vandelay", "massive-dynamic", "pied-piper",
               "dunder-mifflin", "gringotts", "aperture", "black-mesa", "nakatomi", "prestige", "duff",
               "monarch", "virtucon", "bluth", "sterling-cooper", "planet-express", "weyland")

CHANNELS = ("email", "chat", "slack", "phone")
CHANNEL_WEIGHTS = (0.45, 0.25, 0.20, 0.10)
SUBJECTS = ("SSO login loop", "Export to CSV times out", "Invoice question", "How do I add seats?",
            "API rate limit", "Dashboard numbers look off", "Webhook retries", "Permissions for new team",
            "Renewal paperwork", "Data retention settings", "Slow search", "Sandbox access")
SEVERITIES = ("sev1", "sev2", "sev3")
SEVERITY_WEIGHTS = (0.10, 0.30, 0.60)
DISCLOSE_P = {"sev1": 0.95, "sev2": 0.85, "sev3": 0.35}
DISCLOSE_MEDIAN = {"sev1": 25 * MINUTE, "sev2": 35 * MINUTE, "sev3": 3 * HOUR}
TICKET_P = {"sev1": 0.5, "sev2": 0.3, "sev3": 0.1}
COMPONENTS = ("api", "auth", "search", "exports", "billing", "notifications", "dashboard")
REGIONS = {
    "APAC": ("Japan", "Singapore", "Australia", "India", "South Korea"),
    "LATAM": ("Brazil", "Mexico", "Colombia", "Chile", "Argentina"),
    "EMEA": ("Germany", "France", "United Kingdom", "Netherlands", "UAE"),
    "NA": ("Canada", "United States"),
}
REGION_NAMES = ("APAC", "LATAM", "EMEA", "NA")
REGION_WEIGHTS = (0.30, 0.20, 0.35, 0.15)
LOCATIONS = ("Austin", "Denver", "New York", "Chicago", "Atlanta", "Seattle", "Boston", "Miami",
             "Toronto", "London", "Singapore", "São Paulo")
DEPARTMENTS = ("sales", "engineering", "support", "marketing")
DEPARTMENT_WEIGHTS = (0.40, 0.35, 0.15, 0.10)
ROLES = {"sales": "Account Executive", "engineering": "Software Engineer",
         "support": "Support Specialist", "marketing": "Growth Marketer"}
MODULES = ("multilingual", "onboarding", "analytics", "sso", "audit-log", "api")
FEATURES = ("dashboard", "reports", "automations", "integrations", "exports", "settings",
            "multilingual", "onboarding", "analytics", "audit-log")

# Shares of the non-structural budget; noise takes the rest.
SHARE_THREADS = 0.30
SHARE_INCIDENTS = 0.025
SHARE_EXPANSION = 0.005
SHARE_HIRING = 0.01
SHARE_MODULES = 0.002


class Account:
    __slots__ = ("idx", "name", "json_name", "tier", "csm", "arr", "seats", "weight", "join_t",
                 "scripted", "sign_t")

    def __init__(self, idx: int, name: str, tier: str, csm: str | None, arr: int, seats: int, weight: float):
        self.idx = idx
        self.name = name
        self.json_name = json.dumps(name)
        self.tier = tier
        self.csm = csm
        self.arr = arr
        self.seats = seats
        self.weight = weight
        self.join_t = 0
        self.scripted = False
        self.sign_t: int | None = None


class Log:
    """Events as compact tuples: (time, seq, type, account, serialized extra fields)."""

    def __init__(self, end_t: int):
        self.events: list[tuple[int, int, str, str, str]] = []
        self.end_t = end_t
        self.seq = 0

    def add(self, t: int, etype: str, acct: Account, **fields) -> bool:
        if t >= self.end_t:
            return False
        extra = json.dumps(fields)[1:-1] if fields else ""
        self.events.append((t, self.seq, etype, acct.json_name, extra))
        self.seq += 1
        return True

    def __len__(self) -> int:
        return len(self.events)


class Clock:
    """Local (US Eastern) days of the span, with weekday-weighted sampling of business times."""

    def __init__(self, start: date, days: int):
        self.days = days
        try:
            from zoneinfo import ZoneInfo

            tz = ZoneInfo(LOCAL_TZ)
            self.day_start = [int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())
                              for d in (start + timedelta(n) for n in range(days + 1))]
        except Exception:  # no tz database: fixed Eastern Standard Time
            base = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) + 5 * HOUR
            self.day_start = [base + n * DAY for n in range(days + 1)]
        self.weekday0 = start.weekday()
        self.start_t = self.day_start[0]
        self.end_t = self.day_start[days]
        cw = [0.0]
        for n in range(days):
            cw.append(cw[-1] + (1.0 if self.is_weekday(n) else 0.15))
        self.cw = cw

    def is_weekday(self, n: int) -> bool:
        return (self.weekday0 + n) % 7 < 5

    def day_of(self, t: int) -> int:
        n = (t - self.start_t) // DAY
        return min(max(n, 0), self.days - 1)

    def at(self, day: int, hhmm: str) -> int:
        """Local wall-clock time on day ``day`` of the span (scenario helper)."""
        h, m = hhmm.split(":")
        return self.day_start[day] + int(h) * HOUR + int(m) * MINUTE

    def build_tables(self, rng: random.Random) -> None:
        """Pre-drawn days and times of day: the fast path of business_time over the whole span."""
        self.tod_table = [self._tod(rng) for _ in range(1 << 16)]
        self.day_table = [self._day(rng, 0, self.days) for _ in range(1 << 16)]

    def _day(self, rng: random.Random, lo_day: int, hi_day: int) -> int:
        cw = self.cw
        u = cw[lo_day] + rng.random() * (cw[hi_day] - cw[lo_day])
        return min(max(bisect_right(cw, u) - 1, lo_day), hi_day - 1)

    @staticmethod
    def _tod(rng: random.Random) -> int:
        if rng.random() < 0.12:
            return rng.randrange(DAY)
        tod = int(rng.gauss(13.5 * HOUR, 2.6 * HOUR))
        return min(max(tod, 6 * HOUR + 30 * MINUTE), 21 * HOUR)

    def business_time(self, rng: random.Random, lo_day: int = 0, hi_day: int | None = None) -> int:
        """A time on a day in [lo_day, hi_day): weekdays weigh more, office hours mostly."""
        if hi_day is None:
            bits = rng.getrandbits(32)
            n = self.day_table[bits & 0xFFFF]
            if n >= lo_day:
                return self.day_start[n] + self.tod_table[bits >> 16]
            hi_day = self.days
        if lo_day >= hi_day:
            lo_day = max(0, hi_day - 1)
        return self.day_start[self._day(rng, lo_day, hi_day)] + self._tod(rng)

    def any_time(self, rng: random.Random, lo_t: int, hi_t: int) -> int:
        return lo_t + rng.randrange(max(1, hi_t - lo_t))

    def office_open(self, t: int) -> bool:
        n = self.day_of(t)
        tod = t - self.day_start[n]
        return self.is_weekday(n) and 8 * HOUR <= tod < 20 * HOUR

    def next_opening(self, t: int) -> int:
        n = self.day_of(t)
        if t - self.day_start[n] >= 8 * HOUR:
            n += 1
        while n < self.days and not self.is_weekday(n):
            n += 1
        if n >= self.days:
            return self.end_t
        return self.day_start[n] + 8 * HOUR


def lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return int(rng.lognormvariate(math.log(median), sigma))


def weighted_picker(rng: random.Random, items: list, weights: list[float]):
    cw = []
    total = 0.0
    for w in weights:
        total += w
        cw.append(total)

    def pick():
        return items[min(bisect_right(cw, rng.random() * total), len(items) - 1)]

    return pick


# --------------------------------------------------------------------------- accounts

def make_accounts(rng: random.Random, n: int, named: bool) -> list[Account]:
    n_csm = max(4, n // 40)
    csms = [f"{CSM_NAMES[i % len(CSM_NAMES)]}{'' if i < len(CSM_NAMES) else i // len(CSM_NAMES)}@example.com"
            for i in range(n_csm)]
    width = max(4, len(str(n)))
    accounts = []
    for i in range(n):
        if named and i < len(NAMED):
            name, tier, csm, arr, seats = NAMED[i]
            a = Account(i, name, tier, csm, arr, seats, TIER_ACTIVITY[tier])
            a.scripted = True
            accounts.append(a)
            continue
        name = EXTRA_NAMES[i - len(NAMED)] if named and i - len(NAMED) < len(EXTRA_NAMES) else f"acct-{i:0{width}d}"
        tier = rng.choices(TIERS, TIER_WEIGHTS)[0]
        lo, hi = TIER_ARR[tier]
        arr = 0 if hi == 0 else int(round(rng.uniform(lo, hi), -2))
        seats = rng.randint(*TIER_SEATS[tier])
        csm = None if tier == "free" else csms[rng.randrange(n_csm)]
        weight = TIER_ACTIVITY[tier] * rng.lognormvariate(0.0, 0.5)
        accounts.append(Account(i, name, tier, csm, arr, seats, weight))
    return accounts


def snapshot(log: Log, t: int, a: Account, region: str = "NA") -> None:
    fields = {"tier": a.tier, "csm": a.csm, "arr": a.arr, "seats": a.seats, "region": region}
    if a.csm is None:
        del fields["csm"]
    log.add(t, "account.updated", a, **fields)


def invoices(log: Log, rng: random.Random, a: Account, periods: list[tuple[int, int]]) -> None:
    """Monthly invoices, paid a few days after each monthly anniversary of the signature."""
    if a.arr <= 0:
        return
    n = 0
    for p_start, p_end in periods:
        k = 0
        while True:
            t = p_start + k * 30 * DAY + rng.randrange(2 * DAY, 9 * DAY)
            if t >= min(p_end, log.end_t):
                break
            n += 1
            amount = round(a.arr / 12 * rng.uniform(0.98, 1.04), 2)
            log.add(t, "invoice.paid", a, invoice_id=f"INV-{a.idx:05d}-{n:03d}", amount=amount, currency="USD")
            k += 1


def qbr_fields(rng: random.Random, a: Account, qbr_no: int) -> dict:
    fields: dict = {"qbr_id": f"QBR-{a.name}-{qbr_no}", "attendees": rng.randint(2, 9)}
    r = rng.random()
    if r < 0.70:
        fields["roi"] = {"value_usd": int(round(a.arr * rng.uniform(0.4, 3.5) + rng.uniform(2000, 20000), -2)),
                         "hours_saved": rng.randint(20, 2000)}
    elif r < 0.80:
        fields["roi"] = {"value_usd": 0, "hours_saved": rng.randint(0, 30)}
    return fields  # else: a task list, no ROI presented


def random_structure(log: Log, rng: random.Random, clock: Clock, a: Account) -> None:
    """Snapshot, contract(s), QBRs, account changes, initial modules, invoices for one account."""
    days = clock.days
    if rng.random() < 0.35:
        a.join_t = clock.start_t + rng.randrange(8 * HOUR, 10 * HOUR)  # existing customer, CRM snapshot
    else:
        a.join_t = clock.business_time(rng, 0, max(1, int(days * 0.4)))
    snapshot(log, a.join_t, a, rng.choices(REGION_NAMES, (0.1, 0.05, 0.15, 0.7))[0])
    t_mod = a.join_t + 5 * MINUTE
    for m in MODULES:
        if rng.random() < (0.25 if a.tier == "enterprise" else 0.08 if a.tier != "free" else 0.0):
            log.add(t_mod, "module.purchased", a, module=m, seats=a.seats)
            t_mod += MINUTE

    # Changes: CSM reassigned, seats added, tier upgrade (a free -> starter upgrade signs a contract).
    sign_t = None if a.tier == "free" else a.join_t + rng.randrange(10 * MINUTE, 3 * DAY)
    t = a.join_t
    while True:
        t += int(rng.expovariate(1 / (150 * DAY)))
        if t >= clock.end_t:
            break
        r = rng.random()
        if r < 0.4 and a.csm is not None:
            a.csm = f"{CSM_NAMES[rng.randrange(len(CSM_NAMES))]}@example.com"
            log.add(t, "account.updated", a, csm=a.csm)
        elif r < 0.8:
            a.seats = int(a.seats * rng.uniform(1.05, 1.5)) + 1
            log.add(t, "account.updated", a, seats=a.seats)
        elif a.tier in UPGRADE:
            a.tier = UPGRADE[a.tier]
            lo, hi = TIER_ARR[a.tier]
            a.arr = int(round(rng.uniform(lo, hi), -2))
            if a.csm is None:
                a.csm = f"{CSM_NAMES[rng.randrange(len(CSM_NAMES))]}@example.com"
            log.add(t, "account.updated", a, tier=a.tier, arr=a.arr, csm=a.csm)
            if sign_t is None:
                sign_t = t + rng.randrange(MINUTE, DAY)
    if sign_t is None:
        return

    # Contract periods: Day 1, maybe churn, maybe win-back; renewal after a year.
    periods = []
    start = sign_t
    contract_no = 1
    renewal = False
    while start < clock.end_t:
        cid = f"C-{a.idx:05d}-{contract_no}"
        log.add(start, "contract.signed", a, contract_id=cid, arr=a.arr, term_months=12, renewal=renewal)
        churn_p = {"starter": 0.14, "pro": 0.08, "enterprise": 0.04}.get(a.tier, 0.1) * days / 365
        end = clock.end_t
        if rng.random() < churn_p:
            end = start + rng.randrange(45 * DAY, max(46 * DAY, days * DAY))
        if end < clock.end_t:
            log.add(end, "contract.ended", a, contract_id=cid, reason=rng.choice(("churn", "budget", "merger")))
        else:
            end = clock.end_t
        periods.append((start, end))
        # QBRs every ~60-120 days (tighter for enterprise), none after the contract ends
        lo, hi = {"enterprise": (55, 100), "pro": (60, 120), "starter": (70, 140)}.get(a.tier, (60, 120))
        q = start
        n = 1
        while True:
            q += rng.randrange(lo * DAY, hi * DAY)
            if q >= end:
                break
            qd = clock.day_of(q)
            while qd < days - 1 and not clock.is_weekday(qd):
                qd += 1
            log.add(clock.business_time(rng, qd, qd + 1), "qbr.held", a, **qbr_fields(rng, a, n))
            n += 1
        contract_no += 1
        if end < clock.end_t:
            if rng.random() >= 0.4:
                break
            start = end + rng.randrange(14 * DAY, 60 * DAY)  # win-back
            renewal = False
        else:
            # renewal a year after signature, inside the same cadence
            r_t = start + 365 * DAY
            if r_t < clock.end_t:
                log.add(r_t, "contract.signed", a, contract_id=f"C-{a.idx:05d}-{contract_no}", arr=a.arr,
                        term_months=12, renewal=True)
            break
    a.sign_t = sign_t
    invoices(log, rng, a, periods)


# --------------------------------------------------------------------------- activities

class Threads:
    def __init__(self):
        self.n = 0

    def thread(self, log: Log, rng: random.Random, clock: Clock, a: Account) -> None:
        self.n += 1
        tid = f"T-{self.n:07d}"
        t = clock.business_time(rng, clock.day_of(a.join_t) + 1 if a.join_t > clock.start_t else 0)
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        contact = f"{rng.choice(('ops', 'it', 'finance', 'admin', 'jo', 'max', 'kim', 'pat'))}@{a.name}.example"
        subject = rng.choice(SUBJECTS)
        exchanges = 0
        while t < log.end_t and exchanges < 6:
            exchanges += 1
            fields = {"thread_id": tid, "channel": channel, "from": contact}
            if channel == "email":
                fields["subject"] = subject if exchanges == 1 else "Re: " + subject
            internal = channel == "slack" and rng.random() < 0.15
            if channel == "slack":
                fields["internal"] = internal
            log.add(t, "customer.message", a, **fields)
            if internal:
                return  # our own note in a shared channel: nobody replies to it
            if rng.random() < 0.06:  # never answered: maybe a nudge later, maybe nothing
                if rng.random() < 0.5:
                    t += rng.randrange(5 * HOUR, 48 * HOUR)
                    continue
                return
            delay = max(MINUTE, lognormal(rng, 1.3 * HOUR, 0.8))
            r_t = t + delay
            if not clock.office_open(r_t) and rng.random() < 0.35:  # else the on-call rota answers
                r_t = max(r_t, clock.next_opening(r_t) + lognormal(rng, 40 * MINUTE, 0.7))
            agent = a.csm if (a.csm and rng.random() < 0.3) else rng.choice(AGENTS)
            if not log.add(r_t, "vendor.reply", a, thread_id=tid, channel=channel, agent=agent):
                return
            if rng.random() >= 0.35:
                return
            t = r_t + max(10 * MINUTE, lognormal(rng, 6 * HOUR, 1.0))


class Incidents:
    def __init__(self):
        self.n = 0
        self.tickets = 0

    def incident(self, log: Log, rng: random.Random, clock: Clock, pick, n_accounts: int) -> None:
        self.n += 1
        iid = f"INC-{self.n:06d}"
        t0 = clock.any_time(rng, clock.start_t, clock.end_t) if rng.random() < 0.4 else clock.business_time(rng)
        sev = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
        component = rng.choice(COMPONENTS)
        k = min(n_accounts, 1 + int(rng.expovariate(0.6)))
        hit = []
        for _ in range(k * 3):
            a = pick()
            if a not in hit and a.join_t <= t0:
                hit.append(a)
            if len(hit) == k:
                break
        disclose = rng.random() < DISCLOSE_P[sev]
        d_t = t0 + max(2 * MINUTE, lognormal(rng, DISCLOSE_MEDIAN[sev], 0.8))
        resolved = t0 + max(20 * MINUTE, lognormal(rng, 3 * HOUR, 0.9))
        for a in hit:
            o_t = t0 + rng.randrange(0, 5 * MINUTE)
            log.add(o_t, "incident.opened", a, incident_id=iid, severity=sev, component=component,
                    title=f"Degraded {component}")
            if disclose and rng.random() < 0.95:
                log.add(max(o_t + MINUTE, d_t + rng.randrange(0, 10 * MINUTE)), "incident.disclosed", a,
                        incident_id=iid, channel=rng.choice(("status_page", "email", "slack")),
                        eta=f"{rng.choice((1, 2, 4, 8))}h")
            if rng.random() < TICKET_P[sev]:
                self.tickets += 1
                log.add(o_t + max(MINUTE, lognormal(rng, 45 * MINUTE, 0.9)), "customer.ticket", a,
                        ticket_id=f"TCK-I{self.tickets:06d}", incident_id=iid,
                        priority="urgent" if sev == "sev1" else "high", subject=f"{component} is down?")
            log.add(max(resolved, o_t + MINUTE), "incident.resolved", a, incident_id=iid)


def expansion(log: Log, rng: random.Random, clock: Clock, a: Account) -> None:
    region = rng.choices(REGION_NAMES, REGION_WEIGHTS)[0]
    log.add(clock.business_time(rng), "signal.expansion", a, region=region, country=rng.choice(REGIONS[region]),
            source=rng.choice(("news", "linkedin", "crm", "csm-note")))


def hiring_burst(log: Log, rng: random.Random, clock: Clock, a: Account) -> int:
    dept = rng.choices(DEPARTMENTS, DEPARTMENT_WEIGHTS)[0]
    location = rng.choice(LOCATIONS)
    n = rng.randint(1, 5)
    first = clock.day_of(clock.business_time(rng))
    span = rng.randint(7, 45)
    added = 0
    for _ in range(n):
        d = min(first + rng.randrange(span), clock.days - 1)
        if log.add(clock.business_time(rng, d, d + 1), "signal.hiring", a, location=location, department=dept,
                   role=ROLES[dept], openings=rng.randint(1, 4), source="job-board"):
            added += 1
    return added


PRIORITIES = ("low", "normal", "high")
SUBJECTS_JSON = tuple(json.dumps(x) for x in SUBJECTS)


def noise(log: Log, rng: random.Random, clock: Clock, pick, count: int) -> None:
    """``count`` noise events (logins, feature views, unlinked tickets); the hot loop, kept lean."""
    append = log.events.append
    seq = log.seq
    end_t = log.end_t
    rand = rng.random
    business_time = clock.business_time
    n_feat, n_subj = len(FEATURES), len(SUBJECTS)
    n = 0
    while n < count:
        a = pick()
        t = business_time(rng)
        if t < a.join_t:
            t = a.join_t + 1 + int(rand() * DAY)
            if t >= end_t:
                continue
        n += 1
        r = rand()
        if r < 0.64:
            append((t, seq, "user.login", a.json_name, f'"user": "u{int(rand() * (a.seats + 1)):04d}"'))
        elif r < 0.97:
            append((t, seq, "feature.viewed", a.json_name,
                    f'"user": "u{int(rand() * (a.seats + 1)):04d}", "feature": "{FEATURES[int(rand() * n_feat)]}"'))
        else:
            append((t, seq, "customer.ticket", a.json_name,
                    f'"ticket_id": "TCK-{n:07d}", "priority": "{PRIORITIES[int(rand() * 3)]}", '
                    f'"subject": {SUBJECTS_JSON[int(rand() * n_subj)]}'))
        seq += 1
    log.seq = seq


# --------------------------------------------------------------------------- --extra-types

RESOLUTIONS = ("fixed", "answered", "configuration", "duplicate", "wont_fix")
RESOLUTION_WEIGHTS = (0.35, 0.40, 0.12, 0.08, 0.05)
NPS_SCORES = tuple(range(11))
NPS_WEIGHTS = (0.02, 0.01, 0.02, 0.03, 0.03, 0.05, 0.07, 0.12, 0.17, 0.22, 0.26)  # ~48% promoters, ~23% detractors


def extra_types(log: Log, rng: random.Random, clock: Clock, accounts: list[Account], noise_from: int) -> None:
    """Four more event types (20 in all), derived from the log, in place of as many noise events.

    ``invoice.issued`` before each ``invoice.paid`` (log-normal payment delay, a few invoices
    never paid), ``ticket.resolved`` after most ``customer.ticket`` events, ``onboarding.completed``
    a few weeks after most first signatures, and ``nps.response`` surveys (0-10 scores). The
    total stays the same: random logins and feature views (noise, ``log.events[noise_from:]``) make room.
    """
    by_json = {a.json_name: a for a in accounts}
    before = len(log)
    unpaid = 0
    for t, _seq, etype, account, extra in list(log.events):
        if etype == "invoice.paid":
            fields = json.loads("{" + extra + "}")
            a = by_json[account]
            issued = max(t - max(HOUR, lognormal(rng, 6 * DAY, 0.7)), a.join_t + rng.randrange(HOUR, 4 * HOUR))
            if issued < t:
                log.add(issued, "invoice.issued", a, invoice_id=fields["invoice_id"], amount=fields["amount"],
                        currency=fields["currency"], terms_days=30)
            if rng.random() < 0.04:  # a dunning case: issued, never paid
                unpaid += 1
                log.add(t + rng.randrange(DAY, 20 * DAY), "invoice.issued", a, invoice_id=f"INV-{a.idx:05d}-U{unpaid:04d}",
                        amount=fields["amount"], currency=fields["currency"], terms_days=30)
        elif etype == "customer.ticket":
            if rng.random() < 0.08:
                continue  # still open at the end of the log
            fields = json.loads("{" + extra + "}")
            median = {"urgent": 2 * HOUR, "high": 5 * HOUR, "normal": 20 * HOUR}.get(fields["priority"], 40 * HOUR)
            log.add(t + max(5 * MINUTE, lognormal(rng, median, 1.0)), "ticket.resolved", by_json[account],
                    ticket_id=fields["ticket_id"], resolution=rng.choices(RESOLUTIONS, RESOLUTION_WEIGHTS)[0],
                    agent=rng.choice(AGENTS))
        elif etype == "contract.signed" and '"renewal": false' in extra and rng.random() < 0.85:
            fields = json.loads("{" + extra + "}")
            log.add(t + max(2 * DAY, lognormal(rng, 20 * DAY, 0.5)), "onboarding.completed", by_json[account],
                    contract_id=fields["contract_id"], sessions=rng.randint(1, 6),
                    plan=rng.choice(("self-serve", "guided", "white-glove")))
    survey = 0
    for a in accounts:
        if a.tier == "free" and rng.random() < 0.7:
            continue
        t = a.join_t + lognormal(rng, 60 * DAY, 0.6)
        while t < log.end_t:
            survey += 1
            t = clock.business_time(rng, clock.day_of(t), clock.day_of(t) + 1)
            log.add(t, "nps.response", a, survey_id=f"NPS-{survey:07d}",
                    score=rng.choices(NPS_SCORES, NPS_WEIGHTS)[0], respondent=f"u{rng.randrange(a.seats + 1):04d}")
            t += lognormal(rng, 120 * DAY, 0.3)
    # Make room: drop as many random logins and feature views as were added (when there are that many;
    # not tickets, which may have a resolution now).
    fungible = [i for i in range(noise_from, before) if log.events[i][2] != "customer.ticket"]
    drop = set(rng.sample(fungible, min(len(log) - before, len(fungible))))
    if drop:
        log.events[noise_from:] = [e for i, e in enumerate(log.events[noise_from:], noise_from) if i not in drop]


# --------------------------------------------------------------------------- the named scenario

def scenario(log: Log, rng: random.Random, clock: Clock, by_name: dict[str, Account]) -> None:
    """Hand-written, deterministic: every outcome of every rule of us-retention.yaml.

    Day 0 is the start date (Monday 5 January 2026 by default); times are US Eastern.
    """
    at = clock.at
    acme, globex, initech, umbrella = by_name["acme"], by_name["globex"], by_name["initech"], by_name["umbrella"]
    hooli, stark, wayne, soylent = by_name["hooli"], by_name["stark"], by_name["wayne"], by_name["soylent"]

    # Day 0: CRM snapshot of every account, existing modules.
    for i, a in enumerate((acme, globex, initech, umbrella, hooli, stark, wayne, soylent)):
        a.join_t = at(0, f"08:{i:02d}")
        snapshot(log, a.join_t, a)
    log.add(at(0, "08:30"), "module.purchased", stark, module="multilingual", seats=800)
    log.add(at(0, "08:31"), "module.purchased", acme, module="sso", seats=400)

    # Lever 2 — contracts (Day 1 of the 90-day QBR cadence) and QBRs.
    signed = {acme: at(0, "10:00"), globex: at(1, "10:00"), initech: at(2, "11:00"), hooli: at(0, "11:00"),
              stark: at(3, "14:00"), wayne: at(0, "15:00"), soylent: at(4, "10:00")}
    # initech and soylent are six-month pilots: their renewal outreach falls due inside the log.
    pilots = {initech: "2026-07-07", soylent: "2026-07-09"}
    for a, t in signed.items():
        a.sign_t = t
        signed_on = datetime.fromtimestamp(t, UTC).date()  # signed in office hours: the same date in New York
        end = pilots.get(a, signed_on.replace(year=signed_on.year + 1).isoformat())
        log.add(t, "contract.signed", a, contract_id=f"C-{a.name}-2026", arr=a.arr,
                term_months=6 if a in pilots else 12, renewal=False, contract_end=end)
    # Renewal outreach (120 days before the end): soylent's comes after the reminder, in time
    # -> met; initech's a week after its Mar 9 deadline -> due_soon, breach, late. wayne's first
    # contract ends (below) before any outreach -> breach (preempted).
    log.add(at(53, "10:00"), "renewal.outreach", soylent, contract_id="C-soylent-2026", channel="call")
    log.add(at(70, "10:00"), "renewal.outreach", initech, contract_id="C-initech-2026", channel="email")
    # acme: QBR with ROI on Feb 26 -> met.
    log.add(at(52, "14:00"), "qbr.held", acme, qbr_id="QBR-acme-1", attendees=7,
            roi={"value_usd": 185_000, "hours_saved": 1_400})
    # stark: a QBR with zero ROI (does not count), then one with ROI -> met.
    log.add(at(45, "15:00"), "qbr.held", stark, qbr_id="QBR-stark-1", attendees=5,
            roi={"value_usd": 0, "hours_saved": 0})
    log.add(at(73, "15:00"), "qbr.held", stark, qbr_id="QBR-stark-2", attendees=8,
            roi={"value_usd": 320_000, "hours_saved": 2_600})
    # soylent: QBR with ROI on Mar 5 -> met.
    log.add(at(59, "11:00"), "qbr.held", soylent, qbr_id="QBR-soylent-1", attendees=4,
            roi={"value_usd": 42_000, "hours_saved": 310})
    # globex: reminder Mar 23 (due_soon), QBR with ROI Mar 31 -> met.
    log.add(at(85, "14:00"), "qbr.held", globex, qbr_id="QBR-globex-1", attendees=5,
            roi={"value_usd": 64_000, "hours_saved": 520})
    # initech: no QBR at all -> due_soon Mar 24, breach Apr 7 (periods_missed 1).
    # hooli: a QBR without ROI on Mar 20 (a task list: does not count), due_soon Mar 22,
    # breach Apr 5, QBR with ROI Apr 9 -> late.
    log.add(at(74, "10:00"), "qbr.held", hooli, qbr_id="QBR-hooli-1", attendees=3)
    log.add(at(94, "13:00"), "qbr.held", hooli, qbr_id="QBR-hooli-2", attendees=6,
            roi={"value_usd": 96_000, "hours_saved": 700})
    # wayne: contract ended Feb 20 (budget freeze), re-signed Mar 2: the cadence restarts.
    log.add(at(46, "17:00"), "contract.ended", wayne, contract_id="C-wayne-2026", reason="budget")
    log.add(at(56, "10:00"), "contract.signed", wayne, contract_id="C-wayne-2026b", arr=wayne.arr,
            term_months=12, renewal=False, contract_end="2027-03-02")
    wayne_periods = [(signed[wayne], at(46, "17:00")), (at(56, "10:00"), log.end_t)]

    # Account changes.
    log.add(at(60, "09:00"), "account.updated", soylent, csm="priya@example.com")
    soylent.csm = "priya@example.com"
    log.add(at(33, "12:00"), "account.updated", hooli, seats=180)
    hooli.seats = 180

    # Lever 1 — acknowledge within 4h.
    # acme: email answered in 1h15 -> met.
    log.add(at(1, "09:05"), "customer.message", acme, thread_id="th-acme-1", channel="email",
            **{"from": "it@acme.example"}, subject="SSO login loop after IdP change")
    log.add(at(1, "10:20"), "vendor.reply", acme, thread_id="th-acme-1", channel="email", agent="dana@example.com")
    # globex: slack message never answered -> breach 4h later.
    log.add(at(8, "13:00"), "customer.message", globex, thread_id="th-globex-1", channel="slack", internal=False,
            **{"from": "ops@globex.example"})
    # initech (no CSM: escalation falls back to cs-leads): chat at 15:30, answered next morning -> breach + late.
    log.add(at(15, "15:30"), "customer.message", initech, thread_id="th-initech-1", channel="chat",
            **{"from": "admin@initech.example"})
    log.add(at(16, "09:10"), "vendor.reply", initech, thread_id="th-initech-1", channel="chat", agent="support-ben")
    # umbrella is free tier: its message is ignored (unless), even unanswered.
    log.add(at(3, "10:00"), "customer.message", umbrella, thread_id="th-umbrella-1", channel="email",
            **{"from": "jo@umbrella.example"}, subject="Can we get a discount?")
    # hooli: an internal note in the shared slack channel, and wayne: a phone call -> no obligation.
    log.add(at(9, "11:00"), "customer.message", hooli, thread_id="th-hooli-1", channel="slack", internal=True,
            **{"from": "priya@example.com"})
    log.add(at(10, "14:00"), "customer.message", wayne, thread_id="th-wayne-1", channel="phone",
            **{"from": "finance@wayne.example"})
    # stark: email at 16:00, a nudge at 18:30 (same thread: no second clock), reply next morning -> breach + late.
    log.add(at(22, "16:00"), "customer.message", stark, thread_id="th-stark-1", channel="email",
            **{"from": "ops@stark.example"}, subject="Audit export for the board")
    log.add(at(22, "18:30"), "customer.message", stark, thread_id="th-stark-1", channel="email",
            **{"from": "ops@stark.example"}, subject="Re: Audit export for the board")
    log.add(at(23, "08:30"), "vendor.reply", stark, thread_id="th-stark-1", channel="email", agent="sam@example.com")

    # Lever 3 — disclose sev1/sev2 incidents within 1h and before the customer's ticket.
    # INC-2041 sev2 (Jan 27): acme and globex told within 30 min -> met, met; globex's ticket comes after.
    for a, o, d in ((acme, "10:10", "10:35"), (globex, "10:11", "10:40")):
        log.add(at(22, o), "incident.opened", a, incident_id="INC-2041", severity="sev2", component="exports",
                title="CSV exports failing")
        log.add(at(22, d), "incident.disclosed", a, incident_id="INC-2041", channel="email", eta="2h")
    log.add(at(22, "11:05"), "customer.ticket", globex, ticket_id="TCK-9101", incident_id="INC-2041",
            priority="high", subject="Exports failing (thanks for the heads-up)")
    # Tickets' first response by priority: globex's high ticket answered in 55 min -> met.
    log.add(at(22, "12:00"), "ticket.replied", globex, ticket_id="TCK-9101", agent="sam@example.com")
    for a in (acme, globex):
        log.add(at(22, "12:30"), "incident.resolved", a, incident_id="INC-2041")
    # INC-2057 sev1 at night (Feb 9 21:15): wayne told at 21:50 -> met; initech forgotten until 23:30
    # -> breach at the 1h deadline, then late.
    for a, d in ((wayne, "21:50"), (initech, "23:30")):
        log.add(at(35, "21:15"), "incident.opened", a, incident_id="INC-2057", severity="sev1", component="auth",
                title="Logins failing")
        log.add(at(35, d), "incident.disclosed", a, incident_id="INC-2057", channel="status_page", eta="1h")
        log.add(at(36, "00:40"), "incident.resolved", a, incident_id="INC-2057")
    # INC-2063 sev2 (Feb 24): soylent never told, the incident fixed quietly -> breach at the deadline.
    log.add(at(50, "14:00"), "incident.opened", soylent, incident_id="INC-2063", severity="sev2",
            component="search", title="Search results stale")
    log.add(at(50, "15:10"), "incident.resolved", soylent, incident_id="INC-2063")
    # INC-2066 sev3 (Mar 4): acme, never disclosed -> no obligation for a sev3.
    log.add(at(58, "10:00"), "incident.opened", acme, incident_id="INC-2066", severity="sev3",
            component="dashboard", title="Chart tooltips misaligned")
    log.add(at(58, "16:00"), "incident.resolved", acme, incident_id="INC-2066")
    # INC-2071 sev1 (Mar 11): hooli's ticket at 09:25 beats our disclosure -> breach (preempted),
    # the disclosure at 09:50 -> late.
    log.add(at(65, "09:00"), "incident.opened", hooli, incident_id="INC-2071", severity="sev1",
            component="api", title="API 5xx errors")
    log.add(at(65, "09:25"), "customer.ticket", hooli, ticket_id="TCK-9188", incident_id="INC-2071",
            priority="urgent", subject="API returning 503s")
    log.add(at(65, "09:50"), "incident.disclosed", hooli, incident_id="INC-2071", channel="email", eta="2h")
    # hooli's urgent ticket (1 business hour): pending 09:40-11:10 while hooli sends request ids,
    # answered 11:30 -> met (15 min before the pause + 20 after: 35 min of the hour, paused 1h30).
    log.add(at(65, "09:40"), "ticket.status_changed", hooli, ticket_id="TCK-9188", status="pending")
    log.add(at(65, "11:10"), "ticket.status_changed", hooli, ticket_id="TCK-9188", status="open")
    log.add(at(65, "11:30"), "ticket.replied", hooli, ticket_id="TCK-9188", agent="dana@example.com")
    # stark's normal ticket Thu Mar 26 15:00 (4 business hours): no reply -> breach Fri 10:00, the VP
    # at twice the target (Fri 14:00), answered Monday -> late.
    log.add(at(80, "15:00"), "customer.ticket", stark, ticket_id="TCK-9202", priority="normal",
            subject="Board report totals differ from the dashboard")
    log.add(at(84, "10:00"), "ticket.replied", stark, ticket_id="TCK-9202", agent="sam@example.com")
    log.add(at(65, "11:40"), "incident.resolved", hooli, incident_id="INC-2071")

    # Lever 4 — proposals.
    # acme expands into Japan (Feb 3) -> proposal; Brazil two weeks later -> suppressed by the 30d cooldown;
    # acme buys multilingual (Mar 2: proposal won); Singapore (Mar 16) -> suppressed by unless.
    log.add(at(29, "11:00"), "signal.expansion", acme, region="APAC", country="Japan", source="news")
    log.add(at(43, "11:00"), "signal.expansion", acme, region="LATAM", country="Brazil", source="linkedin")
    log.add(at(56, "15:00"), "module.purchased", acme, module="multilingual", seats=400)
    log.add(at(70, "11:00"), "signal.expansion", acme, region="APAC", country="Singapore", source="csm-note")
    # globex opens in Germany -> not APAC/LATAM, no match.
    log.add(at(31, "10:00"), "signal.expansion", globex, region="EMEA", country="Germany", source="news")
    # stark expands into South Korea but already owns multilingual -> suppressed by unless.
    log.add(at(38, "10:30"), "signal.expansion", stark, region="APAC", country="South Korea", source="crm")
    # wayne opens in Mexico -> proposal.
    log.add(at(58, "11:00"), "signal.expansion", wayne, region="LATAM", country="Mexico", source="news")
    # globex hires sales reps in Austin: 3 postings in 21 days -> onboarding proposal (subject Austin);
    # one in Denver and engineers in Austin do not count.
    for d in (28, 37, 49):
        log.add(at(d, "09:00"), "signal.hiring", globex, location="Austin", department="sales",
                role="Account Executive", openings=2, source="job-board")
    log.add(at(42, "09:00"), "signal.hiring", globex, location="Denver", department="sales",
            role="Account Executive", openings=1, source="job-board")
    log.add(at(44, "09:00"), "signal.hiring", globex, location="Austin", department="engineering",
            role="Software Engineer", openings=3, source="job-board")
    # hooli hires sales in Chicago, but spread out (Jan 12, Feb 20, Mar 25): never 3 within 30 days.
    for d in (7, 46, 79):
        log.add(at(d, "09:30"), "signal.hiring", hooli, location="Chicago", department="sales",
                role="Account Executive", openings=1, source="job-board")

    for a in (acme, globex, initech, hooli, stark, soylent):
        invoices(log, rng, a, [(a.sign_t, log.end_t)])
    invoices(log, rng, wayne, wayne_periods)


# --------------------------------------------------------------------------- main

def generate(n_events: int, n_accounts: int, seed: int, start: date, days: int, named: bool,
             more_types: bool = False) -> tuple[list, int]:
    rng = random.Random(seed)
    clock = Clock(start, days)
    clock.build_tables(rng)
    log = Log(clock.end_t)
    accounts = make_accounts(rng, n_accounts, named)

    scripted = [a for a in accounts if a.scripted]
    if scripted:
        scenario(log, random.Random(f"scenario-{seed}"), clock, {a.name: a for a in scripted})
    free_form = [a for a in accounts if not a.scripted]
    for a in free_form:
        random_structure(log, rng, clock, a)

    budget = max(0, n_events - len(log))
    pick_any = weighted_picker(rng, accounts, [a.weight for a in accounts])
    pick_free_form = weighted_picker(rng, free_form, [a.weight for a in free_form]) if free_form else None

    threads = Threads()
    goal = len(log) + int(budget * SHARE_THREADS)
    while len(log) < goal:
        threads.thread(log, rng, clock, pick_any())
    if pick_free_form is not None:  # the scripted accounts' incidents and signals are hand-written
        incidents = Incidents()
        goal = len(log) + int(budget * SHARE_INCIDENTS)
        while len(log) < goal:
            incidents.incident(log, rng, clock, pick_free_form, len(free_form))
        goal = len(log) + int(budget * SHARE_EXPANSION)
        while len(log) < goal:
            expansion(log, rng, clock, pick_free_form())
        goal = len(log) + int(budget * SHARE_HIRING)
        while len(log) < goal:
            hiring_burst(log, rng, clock, pick_free_form())
        goal = len(log) + int(budget * SHARE_MODULES)
        while len(log) < goal:
            a = pick_free_form()
            log.add(clock.business_time(rng, clock.day_of(a.join_t) + 1), "module.purchased", a,
                    module=rng.choice(MODULES), seats=a.seats)
    noise_from = len(log)
    noise(log, rng, clock, pick_any, n_events - len(log))
    if more_types:  # its own random stream: the default output does not change
        extra_types(log, random.Random(f"extra-types-{seed}"), clock, accounts, noise_from)

    events = log.events
    events.sort()
    cut = 0
    if len(events) > n_events:
        cut = len(events) - n_events
        del events[n_events:]
    return events, cut


def write(events: list, out) -> None:
    width = max(6, len(str(len(events))))
    day_cache: dict[int, str] = {}
    tods = [f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(DAY)]
    buf: list[str] = []
    for i, (t, _seq, etype, account, extra) in enumerate(events, 1):
        d, s = divmod(t, DAY)
        ds = day_cache.get(d)
        if ds is None:
            ds = day_cache[d] = time.strftime("%Y-%m-%d", time.gmtime(d * DAY))
        if extra:
            buf.append(f'{{"id": "ev-{str(i).zfill(width)}", "type": "{etype}", "time": "{ds}{tods[s]}", '
                       f'"account": {account}, {extra}}}\n')
        else:
            buf.append(f'{{"id": "ev-{str(i).zfill(width)}", "type": "{etype}", "time": "{ds}{tods[s]}", '
                       f'"account": {account}}}\n')
        if len(buf) >= 8192:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate a realistic customer-success event log (JSON Lines).")
    ap.add_argument("--events", type=int, required=True, help="number of events to write (exact)")
    ap.add_argument("--accounts", type=int, required=True, help="number of accounts")
    ap.add_argument("--seed", type=int, default=0, help="random seed (same arguments, same output)")
    ap.add_argument("--out", default="-", help="output file (default: stdout)")
    ap.add_argument("--start", default="2026-01-05", help="first day, YYYY-MM-DD (default 2026-01-05)")
    ap.add_argument("--days", type=int, default=None,
                    help="length of the log in days (default 365; 102 with --named: Q1 plus the first "
                         "90-day QBR deadlines)")
    ap.add_argument("--named", action="store_true",
                    help="readable account names and the hand-written scenario of examples/events.jsonl "
                         "(needs --accounts >= 8)")
    ap.add_argument("--extra-types", action="store_true",
                    help="four more event types, 20 in all: invoice.issued, ticket.resolved, nps.response, "
                         "onboarding.completed (for benchmarks/rules_scaling.py; same total)")
    args = ap.parse_args(argv)
    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        ap.error(f"--start: not a date: {args.start!r}")
    days = args.days if args.days is not None else (102 if args.named else 365)
    if args.events < 0 or args.accounts < 1 or days < 1:
        ap.error("--events must be >= 0, --accounts and --days >= 1")
    if args.named and (args.accounts < len(NAMED) or days < 102):
        ap.error(f"--named needs --accounts >= {len(NAMED)} and --days >= 102")

    t0 = time.perf_counter()
    events, cut = generate(args.events, args.accounts, args.seed, start, days, args.named, args.extra_types)
    if cut and args.events:
        print(f"generate.py: warning: {args.accounts} accounts over {days} days need more than "
              f"{args.events} events; kept the first {args.events} ({cut} cut)", file=sys.stderr)
    if args.out == "-":
        write(events, sys.stdout)
        sys.stdout.flush()
    else:
        with open(args.out, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            write(events, f)
    print(f"generate.py: {len(events)} events, {args.accounts} accounts, {days} days from {start} "
          f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
