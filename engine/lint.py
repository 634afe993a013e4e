"""Lint: warnings about playbooks that are valid but probably not what was meant.

Errors (``validate``) say a playbook cannot run; warnings say it runs but some
part of it can never do anything, or reads a field its events do not have.
Every warning ends with its name in brackets, e.g. ``[constant-where]``:

==================== ==========================================================
``same-vs-match``    a ``same`` field that ``expect.match`` (or ``before.match``)
                     pins to values the trigger cannot, or need not, have
``constant-where``   a ``where`` or ``unless`` whose value never changes
``within-vs-expire`` a ``within`` longer than ``expire`` (the wait for a late reply)
``unreachable-outcome`` actions for an outcome the rule can never produce
                     (``on_due_soon`` without ``remind_before``, cadence or response;
                     a ``remind_before`` by case not shorter than some case's target)
``ladder``           an ``on_progress`` stage at 100 % (that is ``on_breach``), or one that
                     comes after the obligation is dropped (``expire`` after its deadline)
``no-actions``       a rule whose outcomes have no actions at all
``unused-fact``      a fact no expression or template reads
``undeclared-type``  with ``events:``, a pattern type that is not declared there
``unknown-field``    with ``events:``, a field in ``same``, ``match``, ``group_by``,
                     ``where`` or a template that the events it reads cannot have
                     (also ``subject.X`` not in ``same``/``group_by``, without ``events:``)
``match-type``       with ``events:``, a ``match`` value of a JSON type the field never has
``open-state``       a response rule that can hold many obligations at once: ``expect``
                     without ``within`` (or ``deadline``) and no ``expire`` written,
                     ``overlap: each`` without either, or an ``expire`` over a year
``calendar-own-zone`` a rule's ``calendar: {use: NAME, timezone: ZONE}`` whose fixed ZONE is NAME's own
``fact-fed-by-trigger`` a ``where``/``unless`` comparing ``facts.x`` with the event's own ``x``
                     (or a multiple of it) while fact ``x`` is fed by that event type: facts
                     update first, so both sides are the same value; use ``prev.facts.x``
==================== ==========================================================

The schema already rejects an outcome key a rule kind cannot have at all
(``on_match`` on a response rule, ``on_progress`` on a cadence): that stays an
error, not a warning.

Durations given per trigger (``within``, ``expire`` as a table ``{by, cases,
default}``) are compared by their longest case; a template's duration is not
known before the run, so checks that need it are skipped.

This module also checks events against the declared shapes
(:func:`check_event_shapes`, :class:`ShapeChecker`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .compiler import compile_playbook, outcome_names
from .errors import Diagnostic, PlaybookError
from .expressions import PATTERN_NAMES, TEMPLATE_NAMES, EvalError, ExprError, Scope, compile_expression, equals
from .loader import MAX_PLAYBOOK_BYTES, Path, Positions, load_yaml_file
from .messages import did_you_mean
from .model import Playbook
from .sources import SourceEvent
from .summary import Problem
from .timecalc import Duration, DurationError, parse_duration

JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")


@dataclass
class LintResult:
    """One file: the compiled playbook (None when invalid), its errors, its warnings."""

    file: str
    playbook: Playbook | None
    errors: tuple[Diagnostic, ...] = ()
    warnings: list[Diagnostic] = field(default_factory=list)


def lint_file(path: str, max_bytes: int | None = MAX_PLAYBOOK_BYTES) -> LintResult:
    """Load, validate and lint one playbook file. Warnings only when there are no errors.
    ``max_bytes`` as for :func:`engine.load_playbook`."""
    try:
        data, positions = load_yaml_file(path, max_bytes=max_bytes)
        playbook = compile_playbook(data, positions)
    except PlaybookError as exc:
        return LintResult(path, None, exc.diagnostics)
    return LintResult(path, playbook, (), lint(data, positions, playbook))


def format_warning(d: Diagnostic) -> str:
    """``FILE:LINE:COL: warning: message [name]``, as compilers and ruff print them."""
    if d.line:
        return f"{d.file}:{d.line}:{d.col}: warning: {d.message}"
    return f"{d.file}: warning: {d.message}"


def lint(data: dict[str, Any], positions: Positions, playbook: Playbook) -> list[Diagnostic]:
    """Every warning for a valid playbook (its data, positions and compiled form), in file order."""
    linter = _Linter(data, positions, playbook)
    linter.run()
    seen: set[tuple[int, int, str]] = set()
    out = []
    for d in sorted(linter.warnings):
        if (d.line, d.col, d.message) not in seen:
            seen.add((d.line, d.col, d.message))
            out.append(d)
    return out


# -- expressions: which fields they read, and where --------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    root: str
    keys: tuple[str | int, ...]
    text: str       # as written, e.g. "trigger.thread_id"


def _refs(source: str) -> list[_Ref]:
    """The names and field paths an expression reads, outermost chains only."""
    text = source.strip()
    tree = None
    for candidate in (text, "(" + text + "\n)"):
        try:
            tree = ast.parse(candidate, mode="eval").body
            text = candidate
            break
        except SyntaxError:
            continue
    if tree is None:
        return []
    out: list[_Ref] = []

    def walk(n: ast.AST) -> None:
        found = _name_path(n)
        if found is not None:
            out.append(_Ref(found[0], found[1], ast.get_source_segment(text, n) or found[0]))
            return
        if isinstance(n, ast.Call):
            for a in n.args:
                walk(a)
            return
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(tree)
    return out


def _template_parts(text: str) -> list[tuple[int, str]]:
    """The ``{{ expr }}`` parts of a template, each with its offset in the text."""
    parts: list[tuple[int, str]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            return parts
        end = text.find("}}", start + 2)
        if end < 0:
            return parts
        parts.append((start + 2, text[start + 2:end]))
        pos = end + 2


_FACT_REF = re.compile(r"facts\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*(['\"])(.*?)\2\s*\])")


# -- event types a pattern (or an outcome) can see ----------------------------------------------------


@dataclass(frozen=True)
class _Types:
    """A set of event types: exact names and prefix globs (``incident.*``)."""

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def __or__(self, other: _Types) -> _Types:
        return _Types(self.names | other.names, tuple(dict.fromkeys(self.prefixes + other.prefixes)))

    def text(self) -> str:
        items = sorted(self.names) + [p + "*" for p in self.prefixes]
        return items[0] if len(items) == 1 else "any of " + ", ".join(items)


def _types_of(spec: Any) -> _Types:
    if isinstance(spec, dict):
        spec = spec.get("type")
    names = [spec] if isinstance(spec, str) else spec if isinstance(spec, list) else []
    exact = frozenset(n for n in names if isinstance(n, str) and not n.endswith("*"))
    prefixes = tuple(n[:-1] for n in names if isinstance(n, str) and n.endswith("*"))
    return _Types(exact, prefixes)


class _Linter:
    def __init__(self, data: dict[str, Any], pos: Positions, playbook: Playbook):
        self.data = data
        self.pos = pos
        self.pb = playbook
        self.warnings: list[Diagnostic] = []
        self.shapes = playbook.events
        key_root = playbook.key_field
        self.fixed = {playbook.type_field, playbook.time_field, playbook.id_field, key_root}

    def warn(self, path: Path, message: str, name: str, *, key: bool = False, offset: int = 0) -> None:
        d = self.pos.diag(path, f"{message} [{name}]", key=key, offset=offset)
        self.warnings.append(Diagnostic(d.file, d.line, d.col, d.message, "warning"))

    def text_offset(self, path: Path, text: str, part: str, start: int = 0) -> int:
        """The column offset of ``part`` inside the scalar at ``path`` (0 for block scalars)."""
        style = self.pos.styles.get(tuple(path))
        if style in ("|", ">") or "\n" in text:
            return 0
        found = text.find(part, start)
        return self.pos.expr_offset(path) + (found if found >= 0 else 0)

    # -- the whole playbook ----------------------------------------------------------------------

    def run(self) -> None:
        self.check_facts()
        for i, rspec in enumerate(self.data.get("rules") or []):
            if not isinstance(rspec, dict):
                continue
            path: Path = ("rules", i)
            if "every" in rspec:
                self.cadence(rspec, path)
            elif "expect" in rspec and "when" in rspec:
                self.response(rspec, path)
            else:
                self.signal(rspec, path)
            self.check_actions(rspec, path)

    def check_facts(self) -> None:
        facts = self.data.get("facts") or {}
        used: set[str] = set()
        dynamic = False
        for text in _strings({"rules": self.data.get("rules"), "facts": self.data.get("facts")}):
            for m in _FACT_REF.finditer(text):
                used.add(m.group(1) or m.group(3))
            if re.search(r"facts\s*\[\s*[^'\"\s]", text) or re.search(r"\bfacts\b\s*(?![.\[\w])", text):
                dynamic = True
        for name, spec in facts.items():
            path: Path = ("facts", name)
            if not dynamic and name not in used:
                self.warn(path, f"fact '{name}' is never used: no expression or template reads facts.{name}",
                          "unused-fact", key=True)
            if isinstance(spec, dict):
                types = _types_of(spec.get("from"))
                self.pattern(spec.get("from"), path + ("from",), types, types)
                value = spec.get("value")
                if isinstance(value, str):
                    self.expression(value, path + ("value",), PATTERN_NAMES, types, types, "the value of fact " + name)

    # -- rules --------------------------------------------------------------------------------------

    def response(self, r: dict[str, Any], path: Path) -> None:
        when = _types_of(r.get("when"))
        exp = r.get("expect") if isinstance(r.get("expect"), dict) else {}
        assert isinstance(exp, dict)
        expect = _types_of(exp)
        self.pattern(r.get("when"), path + ("when",), when, when)
        if isinstance(r.get("unless"), str):
            self.expression(r["unless"], path + ("unless",), PATTERN_NAMES, when, when, "unless", constant="unless")
        self.fed_by_trigger(r, path, when)
        self.pattern({k: v for k, v in exp.items() if k in ("type", "match", "where")}, path + ("expect",), expect, when)
        before = exp.get("before")
        before_types = _types_of(before) if before is not None else None
        if before is not None and before_types is not None:
            self.pattern(before, path + ("expect", "before"), before_types, when)
        # pause and resume: patterns correlated like expect (same key, same 'same' values)
        clock = [(name, r[name], _types_of(r[name])) for name in ("pause", "resume") if r.get(name) is not None]
        for name, spec, types in clock:
            self.pattern(spec, path + (name,), types, when)
        same = exp.get("same") or []
        for j, name in enumerate(same):
            spath = path + ("expect", "same", j)
            self.field(name, spath, when, "'same' field")
            self.field(name, spath, expect, "'same' field")
            if before_types is not None:
                self.field(name, spath, before_types, "'same' field")
            for _, _, types in clock:
                self.field(name, spath, types, "'same' field")
            self.same_vs_match(name, spath, r.get("when"), exp, "expect", "fulfilled")
            if isinstance(before, dict):
                self.same_vs_match(name, spath, r.get("when"), before, "expect.before", "preempted")
            for clock_name, spec, _ in clock:
                if isinstance(spec, dict):
                    self.same_vs_match(name, spath, r.get("when"), spec, clock_name, clock_name + "d")
        for dpath, value in ((("expect", "within"), exp.get("within")), (("expire",), r.get("expire")),
                             (("remind_before",), r.get("remind_before"))):
            self.duration_choice(value, path + dpath, when)
        deadline = exp.get("deadline")
        if isinstance(deadline, dict) and isinstance(deadline.get("at"), str):
            self.template(deadline["at"], path + ("expect", "deadline", "at"), when, when, "deadline.at")
        self.within_vs_expire(r, exp, path)
        self.open_state(r, exp, path)
        self.ladder(r, exp, path)
        self.reminder(r, exp.get("within"), "within", "calendar" in exp, path)
        self.calendar(exp.get("calendar"), path + ("expect", "calendar"), when)
        actions = r.get("actions") or {}
        if "remind_before" not in r and isinstance(actions, dict) and actions.get("on_due_soon"):
            self.warn(path + ("actions", "on_due_soon"), "on_due_soon never fires: the rule has no remind_before "
                      "(add one, e.g. remind_before: 1h, or remove these actions)", "unreachable-outcome", key=True)
        outcomes: dict[str, tuple[_Types, _Types, _Types]] = {
            # outcome -> (trigger types, event types, types a bare name may read)
            "on_met": (when, expect, expect),
            "on_late": (when, expect, expect),
            # a deadline breach has no event (bare names read the trigger); a preemption has the before event
            "on_breach": (when, before_types or _Types(), when | before_types if before_types else when),
            # a reminder and a stage come from the clock: bare names read the trigger
            "on_due_soon": (when, _Types(), when),
        }
        reserved = outcome_names("response", r)
        self.templates(r, path, outcomes, set(same), reserved)
        stages = actions.get("on_progress") if isinstance(actions, dict) else None
        if isinstance(stages, list):
            for j, stage in enumerate(stages):
                if isinstance(stage, dict) and isinstance(stage.get("actions"), list):
                    self.action_templates(stage["actions"], path + ("actions", "on_progress", j, "actions"),
                                          f"on_progress {_stage_label(stage.get('at'))}", (when, _Types(), when),
                                          set(same), reserved | {"stage"})

    def cadence(self, r: dict[str, Any], path: Path) -> None:
        start, expect = _types_of(r.get("start")), _types_of(r.get("expect"))
        stop = _types_of(r.get("stop")) if r.get("stop") is not None else None
        trigger = start | expect   # the start, then the last qualifying event
        self.pattern(r.get("start"), path + ("start",), start, start)
        if stop is not None:
            self.pattern(r.get("stop"), path + ("stop",), stop, trigger)
        self.pattern(r.get("expect"), path + ("expect",), expect, trigger)
        self.calendar(r.get("calendar"), path + ("calendar",), start)
        self.reminder(r, r.get("every"), "every", "calendar" in r, path)
        actions = r.get("actions") or {}
        if "remind_before" not in r and actions.get("on_due_soon"):
            self.warn(path + ("actions", "on_due_soon"), "on_due_soon never fires: the rule has no remind_before "
                      "(add one, e.g. remind_before: 14d, or remove these actions)", "unreachable-outcome", key=True)
        outcomes = {
            "on_met": (trigger, expect, expect),
            "on_late": (trigger, expect, expect),
            "on_breach": (trigger, _Types(), trigger),
            "on_due_soon": (trigger, _Types(), trigger),
        }
        self.templates(r, path, outcomes, set())

    def signal(self, r: dict[str, Any], path: Path) -> None:
        when = _types_of(r.get("when"))
        self.pattern(r.get("when"), path + ("when",), when, when)
        if isinstance(r.get("unless"), str):
            self.expression(r["unless"], path + ("unless",), PATTERN_NAMES, when, when, "unless", constant="unless")
        self.fed_by_trigger(r, path, when)
        group_by = r.get("group_by") or []
        for j, name in enumerate(group_by):
            self.field(name, path + ("group_by", j), when, "group_by field")
        self.templates(r, path, {"on_match": (when, when, when)}, set(group_by))

    # -- pieces -------------------------------------------------------------------------------------

    def pattern(self, spec: Any, path: Path, types: _Types, trigger: _Types) -> None:
        if isinstance(spec, (str, list)):
            self.declared_types(spec, path)
            return
        if not isinstance(spec, dict):
            return
        self.declared_types(spec.get("type"), path + ("type",))
        match = spec.get("match")
        if isinstance(match, dict):
            for name, values in match.items():
                mpath = path + ("match", name)
                if self.field(name, mpath, types, "match field", key=True):
                    self.match_types(name, values, mpath, types)
        if isinstance(spec.get("where"), str):
            self.expression(spec["where"], path + ("where",), PATTERN_NAMES, types, trigger, "where", constant="where")

    def declared_types(self, spec: Any, path: Path) -> None:
        if not self.shapes:
            return
        names = [spec] if isinstance(spec, str) else spec if isinstance(spec, list) else []
        for i, name in enumerate(names):
            if not isinstance(name, str):
                continue
            p = path if isinstance(spec, str) else path + (i,)
            if name.endswith("*"):
                if not any(t.startswith(name[:-1]) for t in self.shapes):
                    self.warn(p, f"no event type declared under events: starts with '{name[:-1]}'", "undeclared-type")
            elif name not in self.shapes:
                hint = did_you_mean(name, self.shapes)
                self.warn(p, f"event type '{name}' is not declared under events:{hint}", "undeclared-type")

    def shapes_of(self, types: _Types) -> list[dict[str, tuple[str, ...]]] | None:
        """The declared shapes of every type in ``types``; None when any is unknown (then we cannot tell)."""
        if not self.shapes or (not types.names and not types.prefixes):
            return None
        out = []
        for name in types.names:
            if name not in self.shapes:
                return None
            out.append(self.shapes[name])
        for prefix in types.prefixes:
            matched = [s for t, s in self.shapes.items() if t.startswith(prefix)]
            if not matched:
                return None
            out.extend(matched)
        return out

    def known(self, keys: tuple[str | int, ...], shapes: list[dict[str, tuple[str, ...]]]) -> bool:
        names: list[str] = []
        for k in keys:
            if not isinstance(k, str):
                break
            names.append(k)
        if not names:
            return True
        dotted = ".".join(names)
        if dotted in self.fixed or names[0] in self.fixed:
            return True
        for shape in shapes:
            for declared, kinds in shape.items():
                if declared == dotted or declared.startswith(dotted + "."):
                    return True
                if dotted.startswith(declared + ".") and ("object" in kinds or "array" in kinds):
                    return True
        return False

    def field(self, name: Any, path: Path, types: _Types, what: str, *, key: bool = False, offset: int = 0,
              keys: tuple[str | int, ...] | None = None) -> bool:
        """Warn when ``name`` is not a field the events of ``types`` have. True when it is (or unknown)."""
        if not isinstance(name, str):
            return True
        shapes = self.shapes_of(types)
        if shapes is None:
            return True
        parts = keys if keys is not None else tuple(name.split("."))
        if self.known(parts, shapes):
            return True
        declared = sorted({f for s in shapes for f in s})
        hint = did_you_mean(name, declared)
        listed = f" (declared: {', '.join(declared)})" if declared and not hint else ""
        subject = f"{what}, which is not" if " reads " in what else f"{what} '{name}' is not"
        self.warn(path, f"{subject} a field of {types.text()} as declared under events:{hint}{listed}",
                  "unknown-field", key=key, offset=offset)
        return False

    def match_types(self, name: str, values: Any, path: Path, types: _Types) -> None:
        shapes = self.shapes_of(types)
        if shapes is None:
            return
        kinds = {k for s in shapes for f, ks in s.items() if f == name for k in ks}
        if not kinds:
            return
        listed = values if isinstance(values, list) else [values]
        if not listed or any(_fits(v, kinds) for v in listed):
            return
        shown = ", ".join(_json_type(v) for v in listed)
        self.warn(path, f"match {name}: {shown} value{'s' if len(listed) != 1 else ''} can never match: "
                  f"events: declares {name} as {' or '.join(sorted(kinds))}", "match-type", key=True)

    def expression(self, text: str, path: Path, reserved: frozenset[str], own: _Types, trigger: _Types,
                   what: str, *, constant: str | None = None, base: int = 0, full: str | None = None) -> None:
        """Fields an expression reads; a constant where/unless."""
        try:
            expr = compile_expression(text, reserved)
        except ExprError:
            return
        if constant is not None and expr.is_constant:
            try:
                value = bool(expr.evaluate(Scope({}, None)))
            except EvalError:
                value = False
            if constant == "where":
                effect = "it filters nothing: remove it" if value else "the pattern never matches"
            else:
                effect = "every trigger is ignored" if value else "it never ignores anything: remove it"
            self.warn(path, f"{constant} \"{' '.join(text.split())}\" is always {'true' if value else 'false'}: {effect}",
                      "constant-where")
        source = full if full is not None else text
        for ref in _refs(text):
            offset = self.text_offset(path, source, ref.text, base)
            if ref.root in reserved:
                if ref.root == "event":
                    self.field(_dotted(ref.keys), path, own, f"{what} reads {ref.text}", offset=offset, keys=ref.keys)
                elif ref.root == "trigger":
                    self.field(_dotted(ref.keys), path, trigger, f"{what} reads {ref.text}", offset=offset, keys=ref.keys)
                continue
            self.field(_dotted((ref.root, *ref.keys)), path, own, f"{what} reads {ref.text}", offset=offset,
                       keys=(ref.root, *ref.keys))

    def calendar(self, spec: Any, path: Path, trigger: _Types) -> None:
        """A rule's ``calendar:``: its templates read the trigger (or start); a fixed
        ``timezone:`` that is the calendar's own changes nothing."""
        if isinstance(spec, str):
            self.template(spec, path, trigger, trigger, "the calendar")
            return
        if not isinstance(spec, dict):
            return
        use, zone = spec.get("use"), spec.get("timezone")
        if isinstance(use, str):
            self.template(use, path + ("use",), trigger, trigger, "the calendar")
        if not isinstance(zone, str):
            return
        if "{{" in zone:
            self.template(zone, path + ("timezone",), trigger, trigger, "the calendar's timezone")
            return
        calendar = self.pb.calendars.get(use) if isinstance(use, str) else None
        if calendar is not None and calendar.tz.key == zone:
            self.warn(path + ("timezone",), f"timezone {zone!r} is already the time zone of calendar '{use}': it changes "
                      f"nothing (write calendar: {use}, or a template such as '{{{{ facts.tz }}}}')", "calendar-own-zone")

    def template(self, text: str, path: Path, bare: _Types, trigger: _Types, what: str,
                 event: _Types | None = None, subject: set[str] | None = None,
                 reserved: frozenset[str] = TEMPLATE_NAMES) -> None:
        for start, inner in _template_parts(text):
            try:
                compile_expression(inner, reserved)
            except ExprError:
                continue
            for ref in _refs(inner):
                offset = self.text_offset(path, text, ref.text, start)
                if ref.root == "trigger":
                    self.field(_dotted(ref.keys), path, trigger, f"{what} reads {ref.text}", offset=offset, keys=ref.keys)
                elif ref.root == "event" and event is not None:
                    self.field(_dotted(ref.keys), path, event, f"{what} reads {ref.text}", offset=offset, keys=ref.keys)
                elif ref.root == "subject" and subject is not None and ref.keys:
                    first = ref.keys[0]
                    if isinstance(first, str) and first not in subject:
                        where = f"its subject fields are {', '.join(sorted(subject))}" if subject else "its subject is always {}"
                        self.warn(path, f"{what} reads {ref.text}, but the rule has no subject field '{first}' ({where})",
                                  "unknown-field", offset=offset)
                elif ref.root not in reserved:
                    self.field(_dotted((ref.root, *ref.keys)), path, bare, f"{what} reads {ref.text}", offset=offset,
                               keys=(ref.root, *ref.keys))

    def templates(self, r: dict[str, Any], path: Path, outcomes: dict[str, tuple[_Types, _Types, _Types]],
                  subject: set[str], reserved: frozenset[str] = TEMPLATE_NAMES) -> None:
        actions = r.get("actions")
        if not isinstance(actions, dict):
            return
        for outcome, acts in actions.items():
            if outcome not in outcomes or not isinstance(acts, list):
                continue
            self.action_templates(acts, path + ("actions", outcome), outcome, outcomes[outcome], subject, reserved)

    def action_templates(self, acts: list[Any], path: Path, what: str, types: tuple[_Types, _Types, _Types],
                         subject: set[str], reserved: frozenset[str]) -> None:
        """The templates of one list of actions (an outcome's, or a stage's)."""
        trigger, event, bare = types
        for i, action in enumerate(acts):
            if not isinstance(action, dict):
                continue
            for name, value in action.items():
                if name == "do":
                    continue
                for vpath, text in _strings_at(value, path + (i, name)):
                    if "{{" in text:
                        self.template(text, vpath, bare, trigger, f"{what} {name}",
                                      event if event.names or event.prefixes else None, subject, reserved)

    def duration_choice(self, value: Any, path: Path, when: _Types) -> None:
        """The fields a duration chosen per trigger reads: a table's ``by``, or a template."""
        name = str(path[-1])
        if isinstance(value, str) and "{{" in value:
            self.template(value, path, when, when, name)
        elif isinstance(value, dict) and isinstance(value.get("by"), str):
            self.expression(value["by"], path + ("by",), PATTERN_NAMES, when, when, f"{name} by")

    def check_actions(self, r: dict[str, Any], path: Path) -> None:
        actions = r.get("actions")
        if isinstance(actions, dict) and not any(isinstance(v, list) and v for v in actions.values()):
            self.warn(path + ("actions",), f"rule '{r.get('id')}' has no actions: its outcomes are counted, "
                      "but nothing is emitted", "no-actions", key=True)

    def same_vs_match(self, name: str, path: Path, when: Any, other: dict[str, Any], where: str, verb: str) -> None:
        match = other.get("match")
        if not isinstance(match, dict) or name not in match:
            return
        pinned = match[name] if isinstance(match[name], list) else [match[name]]
        when_match = when.get("match") if isinstance(when, dict) else None
        trig = None
        if isinstance(when_match, dict) and name in when_match:
            trig = when_match[name] if isinstance(when_match[name], list) else [when_match[name]]
        shown = ", ".join(_show(v) for v in pinned)
        if trig is not None and not any(equals(a, b) for a in trig for b in pinned):
            self.warn(path, f"same: [{name}] can never hold: the trigger's {name} is "
                      f"{', '.join(_show(v) for v in trig)} but {where}.match requires {shown}, so the obligation "
                      f"can never be {verb}", "same-vs-match")
        elif trig is None or not all(any(equals(a, b) for b in pinned) for a in trig):
            self.warn(path, f"same: [{name}] with {where}.match {name}: {shown}: a trigger whose {name} is anything "
                      f"else can never be {verb} (drop {name} from {where}.match, or match it in when)", "same-vs-match")

    def within_vs_expire(self, r: dict[str, Any], exp: dict[str, Any], path: Path) -> None:
        within, expire = _longest(exp.get("within")), _longest(r.get("expire", "30d"))
        if within is None or expire is None:
            return
        if within[0].exact_us > expire[0].exact_us:
            where = path + ("expire",) if "expire" in r else path + ("expect", "within")
            default = "" if "expire" in r else " (the default)"
            self.warn(where, f"within ({within[1]}) is longer than expire ({expire[1]}){default}: a breached "
                      f"obligation waits only {expire[0].text} for a late fulfilment; did you mean a longer expire?",
                      "within-vs-expire")

    def reminder(self, r: dict[str, Any], target: Any, name: str, on_calendar: bool, path: Path) -> None:
        """A ``remind_before`` by case not shorter than the target it reminds of, for some case:
        those obligations (or periods) get no ``due_soon``. Two fixed durations are the
        compiler's error, not a warning."""
        remind_value = r.get("remind_before")
        if remind_value is None or target is None or (not isinstance(remind_value, dict) and not isinstance(target, dict)):
            return
        remind, shortest = _longest(remind_value), _longest(target, shortest=True)
        if remind is None or shortest is None:
            return
        if on_calendar and (remind[0].days or remind[0].weeks or shortest[0].days or shortest[0].weeks):
            return  # business days have no fixed length: compared at run time only
        if remind[0].exact_us >= shortest[0].exact_us:
            self.warn(path + ("remind_before",), f"remind_before ({remind[1]}) is not shorter than {name} "
                      f"({shortest[1]}): the reminder would fall at or before the start, so those get no due_soon; "
                      f"make it shorter than the shortest {name}", "unreachable-outcome")

    def ladder(self, r: dict[str, Any], exp: dict[str, Any], path: Path) -> None:
        """Stages of ``on_progress`` that are ``on_breach`` in disguise, or that come after the obligation is dropped."""
        actions = r.get("actions")
        stages = actions.get("on_progress") if isinstance(actions, dict) else None
        if not isinstance(stages, list):
            return
        on_calendar = "calendar" in exp
        within = _longest(exp.get("within"))
        shortest = _longest(exp.get("within"), shortest=True)
        expire = _longest(r.get("expire", "30d"))
        default = "" if "expire" in r else ", the default"

        def measured(d: Duration) -> int | None:
            """Open time of ``d``: known without a calendar, or for hours and minutes on one (a business day varies)."""
            return None if on_calendar and (d.days or d.weeks) else d.exact_us

        for j, stage in enumerate(stages):
            if not isinstance(stage, dict):
                continue
            label = _stage_label(stage.get("at"))
            spath = path + ("actions", "on_progress", j, "at")
            if label.endswith("%"):
                try:
                    percent = float(label[:-1])
                except ValueError:
                    continue
                if percent == 100:
                    self.warn(spath, "a stage at 100% fires at the deadline, with the breach: that is on_breach: "
                              "put these actions under on_breach", "ladder")
                    continue
                if percent < 100 or shortest is None or expire is None or measured(shortest[0]) is None:
                    continue
                target = measured(shortest[0])
                assert target is not None
                after = round(target * (percent - 100) / 100)
                if after >= expire[0].exact_us:
                    shown = "" if within is None or within[1] == shortest[1] else f"; {within[1]} for the longest"
                    self.warn(spath, f"stage {label} comes {_hours(after)} after the deadline (within {shortest[1]}{shown}), "
                              f"but a breached obligation is dropped expire ({expire[1]}{default}) after its deadline: "
                              f"{_never(after, expire[0].exact_us)}; put it below "
                              f"{100 + 100 * expire[0].exact_us // target}% or write a longer expire", "ladder")
                continue
            try:
                at = parse_duration(label)
            except DurationError:
                continue
            amount = measured(at)
            if amount is None or expire is None:
                continue
            if within is not None:
                target = measured(within[0])
                if target is None or amount - target < expire[0].exact_us:
                    continue
                self.warn(spath, f"stage {label} comes {_hours(amount - target)} after the deadline (within {within[1]}), "
                          f"but a breached obligation is dropped expire ({expire[1]}{default}) after its deadline: "
                          f"{_never(amount - target, expire[0].exact_us)}; put it earlier or write a longer expire", "ladder")
            elif "within" not in exp and "deadline" not in exp and "expire" in r and amount >= expire[0].exact_us:
                self.warn(spath, f"stage {label} comes {_hours(amount)} after the trigger, but an obligation without a "
                          f"deadline is dropped expire ({expire[1]}) after its trigger: {_never(amount, expire[0].exact_us)}; "
                          "put it earlier or write a longer expire", "ladder")


    def fed_by_trigger(self, r: dict[str, Any], path: Path, when: _Types) -> None:
        """``wau < 0.5 * facts.wau`` where fact wau is fed by the trigger's type: both sides are this event's wau."""
        texts: list[tuple[Path, str]] = []
        if isinstance(r.get("when"), dict) and isinstance(r["when"].get("where"), str):
            texts.append((path + ("when", "where"), r["when"]["where"]))
        if isinstance(r.get("unless"), str):
            texts.append((path + ("unless",), r["unless"]))
        facts = self.data.get("facts") or {}
        for epath, text in texts:
            for segment, name, field_text in _fact_vs_field(text, facts):
                fed = _types_of(facts[name].get("from"))
                if not _overlap(fed, when):
                    continue
                self.warn(epath, f"'{' '.join(segment.split())}' compares facts.{name} with the event's own {field_text}, "
                          f"but fact {name} is fed by {fed.text()} events: facts update before rules see an event, so "
                          f"facts.{name} is already this event's value; to compare with the value before it, "
                          f"write prev.facts.{name}", "fact-fed-by-trigger", offset=self.text_offset(epath, text, segment))

    def open_state(self, r: dict[str, Any], exp: dict[str, Any], path: Path) -> None:
        longest = _longest(r.get("expire", "30d"))  # None: a template (or invalid: errors were reported)
        has_target = "within" in exp or "deadline" in exp
        if not has_target and "expire" not in r:
            self.warn(path + ("expect",), "without within, an obligation has no deadline and, with no expire written, "
                      "stays open until its expected or competing event: unanswered triggers accumulate for good; "
                      "write expire (e.g. expire: 30d) to drop them that long after their trigger", "open-state", key=True)
        if r.get("overlap") == "each" and not has_target:
            until = f", or until expire ({longest[1]})" if "expire" in r and longest is not None else \
                ", or until its expire" if "expire" in r else ""
            self.warn(path + ("overlap",), f"overlap: each without within: every trigger opens an obligation that stays "
                      f"open until its expected or competing event{until}, so unanswered triggers accumulate; add "
                      "within, use overlap: first, or write a short expire", "open-state")
        if longest is not None and longest[0].exact_us > LONG_EXPIRE_US:
            self.warn(path + ("expire",), f"expire {longest[1]} is over a year: breached obligations (and those without "
                      "a deadline) are kept that long, so open state grows with the triggers; is a shorter expire enough?",
                      "open-state")


def _name_path(n: ast.AST) -> tuple[str, tuple[str | int, ...]] | None:
    """``name.k1["k2"][0]`` as (name, keys), or None for anything else (a literal name included)."""
    if isinstance(n, ast.Name):
        if n.id in ("true", "false", "null", "True", "False", "None"):
            return None
        return n.id, ()
    if isinstance(n, ast.Attribute):
        base = _name_path(n.value)
        return None if base is None else (base[0], base[1] + (n.attr,))
    if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, (str, int)) \
            and not isinstance(n.slice.value, bool):
        base = _name_path(n.value)
        return None if base is None else (base[0], base[1] + (n.slice.value,))
    return None


def _chains(node: ast.AST) -> list[tuple[str, tuple[str | int, ...]]]:
    """The outermost name paths (``facts.x``, ``event.x``, ``x``) read inside ``node``."""
    out: list[tuple[str, tuple[str | int, ...]]] = []

    def walk(n: ast.AST) -> None:
        found = _name_path(n)
        if found is not None:
            out.append(found)
            return
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(node)
    return out


def _fact_vs_field(text: str, facts: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(comparison text, fact name, field as written) for each comparison of ``facts.x`` with a
    field of the event that fact ``x`` (``collect: last``) takes its value from."""
    src = text.strip()
    tree = None
    for candidate in (src, "(" + src + "\n)"):
        try:
            tree = ast.parse(candidate, mode="eval")
            src = candidate
            break
        except SyntaxError:
            continue
    if tree is None:
        return []
    out: list[tuple[str, str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        for a, b in zip(sides, sides[1:], strict=False):
            for fact_side, field_side in ((a, b), (b, a)):
                fields = {(".".join(map(str, keys)) if root == "event" else ".".join([root, *map(str, keys)]))
                          for root, keys in _chains(field_side) if root not in ("facts", "prev", "trigger", "key")}
                for root, keys in _chains(fact_side):
                    if root != "facts" or len(keys) != 1 or not isinstance(keys[0], str):
                        continue
                    spec = facts.get(keys[0])
                    if not isinstance(spec, dict) or spec.get("collect", "last") != "last":
                        continue
                    value = spec.get("value")
                    fed_from = {keys[0]} | ({value.strip()} if isinstance(value, str) else set())
                    hit = sorted(fields & fed_from)
                    if hit:
                        out.append((ast.get_source_segment(src, node) or text, keys[0], hit[0]))
    return out


def _overlap(a: _Types, b: _Types) -> bool:
    """Can one event type be in both sets?"""
    if a.names & b.names:
        return True
    if any(n.startswith(p) for n in a.names for p in b.prefixes) or any(n.startswith(p) for n in b.names for p in a.prefixes):
        return True
    return any(p.startswith(q) or q.startswith(p) for p in a.prefixes for q in b.prefixes)


#: An ``expire`` longer than this is worth a warning (open state is kept that long).
LONG_EXPIRE_US = 366 * 86400 * 10**6


def _longest(value: Any, *, shortest: bool = False) -> tuple[Duration, str] | None:
    """A duration as written, or a table's longest case (``shortest``: its shortest), with words
    for it; None for a template (known only at the trigger) or anything invalid."""
    if isinstance(value, dict):
        cases: dict[Any, Any] = value["cases"] if isinstance(value.get("cases"), dict) else {}
        found = []
        for case, text in [*cases.items(), *([("default", value["default"])] if "default" in value else [])]:
            try:
                d = parse_duration(text)
            except DurationError:
                return None
            found.append((d, f"{d.text} for {case}" if case == "default" else f"{d.text} for case {case}"))
        if not found:
            return None
        pick = min if shortest else max
        return pick(found, key=lambda f: f[0].exact_us)
    if isinstance(value, str) and "{{" in value:
        return None
    try:
        d = parse_duration(value)
    except DurationError:
        return None
    return d, d.text


def _never(at: int, dropped: int) -> str:
    if at > dropped:
        return "it can never fire"
    return "it comes at the very instant the obligation is dropped, so it fires only by the order of timers"


def _stage_label(at: Any) -> str:
    """A stage's ``at`` as the compiler reads it (a bare number is a percentage)."""
    if isinstance(at, (int, float)) and not isinstance(at, bool):
        return f"{at:g}%"
    return at.strip() if isinstance(at, str) else str(at)


def _hours(us: int) -> str:
    """An amount of (open) time in hours and minutes: with a calendar a day is no 24 h."""
    secs = round(us / 1e6)
    h, rest = divmod(secs, 3600)
    m, s = divmod(rest, 60)
    return " ".join(p for p in (f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s else "") if p) or "0s"


def _dotted(keys: tuple[str | int, ...]) -> str:
    return ".".join(str(k) for k in keys)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "description":  # prose, not an expression
                yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _strings_at(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings_at(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings_at(v, path + (i,))


# -- events against their declared shapes -------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fits(value: Any, kinds: Iterable[str]) -> bool:
    kind = _json_type(value)
    kinds = set(kinds)
    if kind in kinds:
        return True
    if kind == "integer" and "number" in kinds:
        return True
    return kind == "number" and "integer" in kinds and float(value).is_integer()


def check_event(playbook: Playbook, data: Mapping[str, Any]) -> list[str]:
    """How one event does not fit the shape ``events:`` declares for its type ([] if it fits or is undeclared).

    A declared field must be present unless its types include ``null``; a field
    the shape does not declare is reported too (the fixed fields and the key
    are always allowed). ``integer`` is a number without a fraction.
    """
    etype = data.get(playbook.type_field)
    shape = playbook.events.get(etype) if isinstance(etype, str) else None
    if shape is None:
        return []
    problems = []
    fixed = {playbook.type_field, playbook.time_field, playbook.id_field, playbook.key_field}
    for name, kinds in shape.items():
        value: Any = data
        present = True
        for part in name.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            else:
                present = False
                break
        if not present:
            if "null" not in kinds:
                problems.append(f"missing field '{name}'")
            continue
        if not _fits(value, kinds):
            problems.append(f"field '{name}' is {_json_type(value)}, declared {' or '.join(kinds)}")

    def extra(value: Mapping[str, Any], prefix: str) -> None:
        for k, v in value.items():
            dotted = prefix + k
            if dotted in shape or (not prefix and (k in fixed or dotted in fixed)):
                continue
            if isinstance(v, Mapping) and any(f.startswith(dotted + ".") for f in shape):
                extra(v, dotted + ".")
                continue
            problems.append(f"field '{dotted}' is not declared")

    extra(data, "")
    return problems


@dataclass
class ShapeReport:
    """Events of declared types checked against their shapes: counts and examples by problem."""

    checked: int = 0
    misfits: int = 0
    problems: dict[str, Problem] = field(default_factory=dict)
    playbook: str = ""

    def lines(self) -> list[str]:
        """The report as summary lines (empty when every checked event fits)."""
        if not self.misfits:
            return []
        whose = f" ({self.playbook})" if self.playbook else ""
        out = [f"events not fitting their declared shape{whose}: {self.misfits:,} of {self.checked:,} checked"]
        for label, problem in sorted(self.problems.items()):
            out.append(f"  {label}: {problem.count:,}")
            for source, _message in problem.samples[:3]:
                out.append(f"    {source}")
        return out


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "null": (type(None),), "array": (list,), "object": (dict,),
}


@dataclass(frozen=True)
class _FastShape:
    """A declared shape without dotted fields, compiled for the common case: the event fits."""

    keys: frozenset[str]                                   # every key an event of this type may have
    fields: tuple[tuple[str, frozenset[type], bool], ...]  # (name, exact Python types, may be absent)


def _fast_shape(playbook: Playbook, shape: Mapping[str, Any]) -> _FastShape | None:
    if any("." in name for name in shape):
        return None
    fixed = {playbook.type_field, playbook.time_field, playbook.id_field, playbook.key_field}
    fields = []
    for name, kinds in shape.items():
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        types = frozenset(t for k in kinds for t in _PY_TYPES.get(k, ()))
        fields.append((name, types, "null" in kinds))
    return _FastShape(frozenset(shape) | {k for k in fixed if "." not in k}, tuple(fields))


def _fits_fast(data: Mapping[str, Any], fast: _FastShape) -> bool:
    """True only when the event surely fits (exact types; anything doubtful goes to check_event)."""
    keys = fast.keys
    for k in data:
        if k not in keys:
            return False
    for name, types, optional in fast.fields:
        if name in data:
            if type(data[name]) not in types:
                return False
        elif not optional:
            return False
    return True


class ShapeChecker:
    """Checks events as they stream past, for ``run``'s summary::

        checker = ShapeChecker(playbook)
        actions = engine.run(checker.wrap(read_events(path)))
        print("\\n".join(checker.report.lines()))
    """

    def __init__(self, playbook: Playbook):
        self.playbook = playbook
        self.report = ShapeReport(playbook=playbook.name)
        # Per type, a compiled check for events that fit (most of them); the
        # full check_event explains the others.
        self._fast = {etype: _fast_shape(playbook, shape) for etype, shape in playbook.events.items()}
        self._fits: dict[tuple[Any, ...], bool] = {}

    def check(self, data: Any, source: str | None = None) -> list[str]:
        if not self.playbook.events or (type(data) is not dict and not isinstance(data, Mapping)):
            return []
        etype = data.get(self.playbook.type_field)
        if not isinstance(etype, str) or etype not in self.playbook.events:
            return []
        self.report.checked += 1
        fast = self._fast[etype]
        if fast is not None:
            # Whether an event fits depends only on its keys and their values' types.
            signature = (etype, tuple(data), tuple(map(type, data.values())))
            fits = self._fits.get(signature)
            if fits is None:
                fits = _fits_fast(data, fast)
                if len(self._fits) < 10_000:
                    self._fits[signature] = fits
            if fits:
                return []
        problems = check_event(self.playbook, data)
        if problems:
            self.report.misfits += 1
            for p in problems:
                self.report.problems.setdefault(f"{etype}: {p}", Problem()).add(source, p)
        return problems

    def wrap(self, events: Iterable[Any]) -> Iterator[Any]:
        """Yield every event unchanged, checking each (a dict or a SourceEvent) on the way."""
        for event in events:
            if isinstance(event, SourceEvent):
                if event.error is None:
                    self.check(event.data, event.source)
            else:
                self.check(event)
            yield event


def check_event_shapes(playbook: Playbook, events: Iterable[Any]) -> ShapeReport:
    """Check every event (dicts or SourceEvents) against ``playbook``'s ``events:`` shapes."""
    checker = ShapeChecker(playbook)
    for _ in checker.wrap(events):
        pass
    return checker.report
