"""``playbook init DIR``: a starter playbook, its tests and a sample log that pass out of the box.

Layout (the test file lives in ``tests/`` so that ``playbook validate DIR``,
which reads every YAML file directly in DIR, sees only the playbook)::

    DIR/playbook.yaml              one rule of each kind, commented
    DIR/playbook.schema.json       the JSON Schema, for editor completion
    DIR/events.jsonl               a small sample log
    DIR/tests/playbook.test.yaml   cases for each rule, and one over the sample log
"""

from __future__ import annotations

import os
import re

from .errors import EngineError, UsageError
from .schema import schema_text

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
FILES = ("playbook.yaml", "playbook.schema.json", "events.jsonl", os.path.join("tests", "playbook.test.yaml"))

PLAYBOOK = """\
# yaml-language-server: $schema=playbook.schema.json
#
# A starter playbook written by `playbook init`: one rule of each kind. Edit it,
# and keep tests/playbook.test.yaml passing:
#
#   playbook validate --strict-lint {dir}
#   playbook test {dir}
#   playbook run {dir}/playbook.yaml --events {dir}/events.jsonl --format table
#   playbook explain {dir}/playbook.yaml --events {dir}/events.jsonl --rule ack-within-4h --key acme
#
# The language: docs/language.md; the authoring tools: docs/authoring.md.
playbook: {name}
version: 1
description: Reply fast, prove value every quarter, propose on expansion signals.
timezone: America/New_York

# Business hours: "within 4h" on this calendar means 4 working hours.
calendars:
  support:
    hours: {{mon-fri: "09:00-17:00"}}
    holidays: {{country: US}}

# The events the rules read and their fields, so that `validate` warns about a
# misspelt field or type. A field whose types include null may be absent.
events:
  account.updated: {{csm: [string, "null"], tier: [string, "null"]}}
  customer.message: {{thread_id: string, channel: string}}
  vendor.reply: {{thread_id: string}}
  contract.signed: {{plan: [string, "null"]}}
  qbr.held: {{roi_usd: number}}
  signal.expansion: {{region: string}}

# Per-account facts, folded from events before the rules see the same event.
facts:
  csm: {{from: {{type: account.updated, where: "csm != null"}}, value: csm}}
  tier: {{from: {{type: account.updated, where: "tier != null"}}, value: tier}}

rules:
  # A response rule: a trigger opens an obligation that an expected event must fulfil.
  - id: ack-within-4h
    description: Acknowledge every customer email or chat within 4 business hours.
    when: {{type: customer.message, match: {{channel: [email, chat]}}}}
    unless: "facts.tier == 'free'"          # free accounts have no SLA
    expect: {{type: vendor.reply, same: [thread_id], within: 4h, calendar: support}}
    actions:
      on_breach:
        - do: escalate
          to: "{{{{ coalesce(facts.csm, 'cs-leads@example.com') }}}}"
          message: "No reply to {{{{ key }}}} on thread {{{{ trigger.thread_id }}}} within 4 business hours"
      on_late:
        - do: follow_up
          to: "{{{{ coalesce(facts.csm, 'cs-leads@example.com') }}}}"
          message: "Replied {{{{ format_duration(late_by) }}}} late on thread {{{{ trigger.thread_id }}}}"

  # A cadence rule: once started, an expected event is due every period.
  - id: qbr-every-90d
    description: Hold a QBR that shows an ROI at least every 90 days from signature.
    every: 90d
    start: contract.signed
    expect: {{type: qbr.held, where: "roi_usd > 0"}}
    remind_before: 14d
    actions:
      on_due_soon: [{{do: remind, to: "{{{{ coalesce(facts.csm, 'cs-leads@example.com') }}}}", due: "{{{{ local(deadline, '%b %d') }}}}"}}]
      on_breach: [{{do: escalate, to: cs-leads@example.com, missed: "{{{{ periods_missed }}}}"}}]

  # A signal rule: a matching event fires, then cools down.
  - id: propose-on-expansion
    description: Propose the multilingual module when an account expands into APAC or LATAM.
    when: {{type: signal.expansion, where: "region in ['APAC', 'LATAM']"}}
    cooldown: 30d
    actions:
      on_match: [{{do: propose, module: multilingual, region: "{{{{ region }}}}"}}]
"""

EVENTS = """\
{"id": "e01", "type": "account.updated", "time": "2026-01-05T14:00:00Z", "account": "acme", "tier": "pro", "csm": "dana@example.com"}
{"id": "e02", "type": "account.updated", "time": "2026-01-05T14:01:00Z", "account": "globex", "tier": "free"}
{"id": "e03", "type": "contract.signed", "time": "2026-01-05T15:00:00Z", "account": "acme", "plan": "pro"}
{"id": "e04", "type": "customer.message", "time": "2026-01-06T14:00:00Z", "account": "acme", "thread_id": "t1", "channel": "email"}
{"id": "e05", "type": "vendor.reply", "time": "2026-01-06T15:30:00Z", "account": "acme", "thread_id": "t1"}
{"id": "e06", "type": "customer.message", "time": "2026-01-07T15:00:00Z", "account": "acme", "thread_id": "t2", "channel": "phone"}
{"id": "e07", "type": "customer.message", "time": "2026-01-08T15:00:00Z", "account": "globex", "thread_id": "t3", "channel": "email"}
{"id": "e08", "type": "customer.message", "time": "2026-01-09T20:00:00Z", "account": "acme", "thread_id": "t4", "channel": "chat"}
{"id": "e09", "type": "vendor.reply", "time": "2026-01-12T17:00:00Z", "account": "acme", "thread_id": "t4"}
{"id": "e10", "type": "signal.expansion", "time": "2026-02-02T16:00:00Z", "account": "acme", "region": "APAC"}
{"id": "e11", "type": "signal.expansion", "time": "2026-02-10T16:00:00Z", "account": "acme", "region": "LATAM"}
{"id": "e12", "type": "signal.expansion", "time": "2026-02-11T16:00:00Z", "account": "globex", "region": "EMEA"}
{"id": "e13", "type": "qbr.held", "time": "2026-03-02T16:00:00Z", "account": "acme", "roi_usd": 0}
{"id": "e14", "type": "qbr.held", "time": "2026-03-30T15:00:00Z", "account": "acme", "roi_usd": 48000}
"""

TESTS = """\
# Tests of ../playbook.yaml. Run them with:  playbook test {dir}
# Each case runs the playbook over its events; every expected entry must match
# an action on the fields it lists, and (exact, the default) no other action may
# be produced. Times are compared as instants, whatever the offset.
playbooks: [../playbook.yaml]
cases:
  - name: a reply within 4 business hours is on time (no action)
    events:
      - {{time: "2026-01-06T09:00:00-05:00", type: customer.message, account: acme, thread_id: t1, channel: email}}
      - {{time: "2026-01-06T12:59:00-05:00", type: vendor.reply, account: acme, thread_id: t1}}
    expect: []

  - name: Friday 15:00 + 4 business hours is Monday 11:00; a reply at noon is late
    events:
      - {{time: "2026-01-05T09:00:00-05:00", type: account.updated, account: acme, csm: dana@example.com}}
      - {{time: "2026-01-09T15:00:00-05:00", type: customer.message, account: acme, thread_id: t4, channel: chat}}
      - {{time: "2026-01-12T12:00:00-05:00", type: vendor.reply, account: acme, thread_id: t4}}
    expect:
      - {{rule: ack-within-4h, outcome: breach, at: "2026-01-12T11:00:00-05:00", params: {{to: dana@example.com}}}}
      - {{rule: ack-within-4h, outcome: late, params: {{message: Replied 1h late on thread t4}}}}

  - name: free accounts and phone calls have no SLA
    until: "2026-01-10T00:00:00Z"
    events:
      - {{time: "2026-01-05T09:00:00-05:00", type: account.updated, account: globex, tier: free}}
      - {{time: "2026-01-06T09:00:00-05:00", type: customer.message, account: globex, thread_id: t1, channel: email}}
      - {{time: "2026-01-06T09:00:00-05:00", type: customer.message, account: acme, thread_id: t2, channel: phone}}
    expect: []

  - name: a QBR reminder 14 days before the 90 days, then a breach when no QBR shows an ROI
    until: "2026-04-06T00:00:00Z"
    events:
      - {{time: "2026-01-05T15:00:00Z", type: contract.signed, account: acme}}
      - {{time: "2026-03-30T15:00:00Z", type: qbr.held, account: acme, roi_usd: 0}}
    expect:
      - {{rule: qbr-every-90d, outcome: due_soon, at: "2026-03-22T15:00:00Z", params: {{due: Apr 05}}}}
      - {{rule: qbr-every-90d, outcome: breach, at: "2026-04-05T15:00:00Z", params: {{missed: 1}}}}

  - name: one proposal per 30 days, and only for APAC or LATAM
    events:
      - {{time: "2026-02-02T16:00:00Z", type: signal.expansion, account: acme, region: APAC}}
      - {{time: "2026-02-10T16:00:00Z", type: signal.expansion, account: acme, region: LATAM}}
      - {{time: "2026-02-11T16:00:00Z", type: signal.expansion, account: globex, region: EMEA}}
    expect:
      - {{rule: propose-on-expansion, outcome: match, key: acme, params: {{region: APAC}}}}

  - name: the sample log gives exactly these actions
    events_file: ../events.jsonl
    expect:
      - {{rule: ack-within-4h, outcome: breach, key: acme, subject: {{thread_id: t4}}, at: "2026-01-12T16:00:00Z"}}
      - {{rule: ack-within-4h, outcome: late, key: acme, subject: {{thread_id: t4}}, at: "2026-01-12T17:00:00Z"}}
      - {{rule: propose-on-expansion, outcome: match, key: acme, at: "2026-02-02T16:00:00Z"}}
      - {{rule: qbr-every-90d, outcome: due_soon, key: acme, at: "2026-03-22T15:00:00Z"}}
"""


def default_name(directory: str) -> str:
    """A playbook name from a directory name: lower case, other characters as '-'."""
    base = os.path.basename(os.path.normpath(os.path.abspath(directory))).lower()
    name = re.sub(r"[^a-z0-9._-]+", "-", base).strip("-._")
    return name if name and NAME.match(name) else "starter"


def starter_files(directory: str, name: str) -> dict[str, str]:
    """The files ``init`` writes: path relative to ``directory`` -> text."""
    shown = directory.rstrip("/") or "."
    return {
        "playbook.yaml": PLAYBOOK.format(name=name, dir=shown),
        "playbook.schema.json": schema_text(),
        "events.jsonl": EVENTS,
        os.path.join("tests", "playbook.test.yaml"): TESTS.format(dir=shown),
    }


def write_starter(directory: str, name: str | None = None, *, force: bool = False) -> list[str]:
    """Write the starter files into ``directory`` (created if needed); return their paths.

    Raises :class:`UsageError` for a bad name or a directory that is a file, and
    :class:`EngineError` when a file exists (unless ``force``) or cannot be written.
    """
    if name is None:
        name = default_name(directory)
    elif not NAME.match(name):
        raise UsageError(f"invalid playbook name {name!r}: start with a lower-case letter or digit, then use a-z 0-9 . _ -")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"{directory}: exists and is not a directory")
    files = starter_files(directory, name)
    targets = [os.path.join(directory, rel) for rel in files]
    existing = [t for t in targets if os.path.exists(t)]
    if existing and not force:
        raise EngineError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}: "
                          "nothing was written (use --force to overwrite)")
    try:
        for text, target in zip(files.values(), targets, strict=True):
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
    except OSError as exc:
        raise EngineError(f"{directory}: cannot write the starter files ({exc.strerror})") from None
    return targets
