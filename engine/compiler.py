"""Validated playbook data -> frozen :class:`~engine.model.Playbook`.

Every problem is collected as a :class:`Diagnostic` with its position; the
caller gets all of them at once in a :class:`PlaybookError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import schema as schema_mod
from .actions import canonical_json, hashable
from .calendars import Calendar, compile_calendar, zone_named, zone_names
from .errors import Diagnostic, PlaybookError
from .expressions import (
    MAX_SIZE,
    PATTERN_NAMES,
    TEMPLATE_NAMES,
    EvalError,
    ExprError,
    Expression,
    Scope,
    compile_expression,
    compile_template,
    equals,
    too_big,
    value_weight,
)
from .loader import MAX_PLAYBOOK_BYTES, Path, Positions, load_yaml, read_yaml_file
from .messages import describe, did_you_mean, suggest_timezone
from .model import (
    ActionSpec,
    CadenceRule,
    CalendarChoice,
    DeadlineAt,
    DurationChoice,
    Fact,
    FieldMatch,
    Pattern,
    Playbook,
    ResponseRule,
    Rule,
    SignalRule,
    Stage,
    make_getter,
)
from .timecalc import Duration, DurationError, TimeError, parse_duration, parse_time

DEFAULT_EXPIRE = "30d"
OUTCOMES = {
    "response": ("on_due_soon", "on_progress", "on_breach", "on_met", "on_late"),
    "cadence": ("on_due_soon", "on_breach", "on_met", "on_late"),
    "signal": ("on_match",),
}


def load_playbook(path: str, *, display: str | None = None, schema_checked: Collection[str] = (),
                  max_bytes: int | None = MAX_PLAYBOOK_BYTES) -> Playbook:
    """Load, validate and compile one playbook file.

    Raises :class:`PlaybookError` listing every problem with its position.
    ``max_bytes``: a larger file (default: over 1 MiB) is refused before it is parsed;
    None: no limit.
    ``schema_checked``: stamps (:func:`engine.schema.checked_stamp`) of playbook texts
    known to pass the schema, as a store keeps them (``SQLiteStore.schema_checked``):
    a text among them is not checked against the schema again.
    """
    name = display or path
    text, text_digest = read_yaml_file(path, name, max_bytes)
    data, positions = load_yaml(text, name)
    return compile_playbook(data, positions, digest=text_digest, schema_checked=schema_checked)


def load_playbook_text(text: str, file: str = "<string>") -> Playbook:
    """Like :func:`load_playbook`, from YAML text."""
    data, positions = load_yaml(text, file)
    return compile_playbook(data, positions, digest=hashlib.sha256(text.encode("utf-8")).hexdigest())


def _digest(value: Any) -> str:
    """A digest of parsed YAML: equal for equal content, whatever the formatting or comments."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def compile_playbook(data: Any, positions: Positions, *, digest: str = "",
                     schema_checked: Collection[str] = ()) -> Playbook:
    if digest and schema_checked and schema_mod.checked_stamp(digest) in schema_checked:
        # The same text passed the same schema before: that check is skipped. A stamp is
        # only a hint (a store is a file anyone may edit): data the compiler does not take
        # as checked data is compiled again below, checked, for the schema's messages.
        trusting = _Compiler(positions)
        try:
            playbook = trusting.compile(data, digest, schema_checked=True)
        except Exception:  # noqa: BLE001 - unchecked data may break the compiler's assumptions
            playbook = None
        if playbook is not None and not trusting.errors:
            return playbook
    compiler = _Compiler(positions)
    playbook = compiler.compile(data, digest)
    if compiler.errors or playbook is None:
        raise PlaybookError(compiler.errors or [positions.diag((), "invalid playbook")])
    return playbook


class _Compiler:
    def __init__(self, positions: Positions):
        self.pos = positions
        self.errors: list[Diagnostic] = []
        self.fact_names: set[str] = set()
        self.calendars: dict[str, Calendar] = {}
        self.calendar_names: set[str] = set()  # declared, valid or not
        self.default_tz: str = "UTC"

    # -- reporting -----------------------------------------------------------------

    def error(self, path: Path, message: str, *, key: bool = False) -> None:
        self.errors.append(self.pos.diag(path, message, key=key))

    def expr_error(self, path: Path, text: str, exc: ExprError) -> None:
        line, col = self.pos.at(path)
        offset = max(0, min(exc.offset, len(text)))
        before = text[:offset]
        newlines = before.count("\n")
        if newlines == 0:
            col += self.pos.expr_offset(path) + offset
        else:
            line += newlines + (1 if self.pos.styles.get(tuple(path)) in ("|", ">") else 0)
        self.errors.append(Diagnostic(self.pos.file, line, col, f"invalid expression: {exc.message}"))

    # -- the whole file ------------------------------------------------------------

    def compile(self, data: Any, digest: str, *, schema_checked: bool = False) -> Playbook | None:
        if data is None:
            self.error((), "empty playbook: expected a mapping with 'playbook', 'version' and 'rules'")
            return None
        if not isinstance(data, dict):
            self.error((), f"a playbook must be a mapping, not {describe(data)}")
            return None
        # A misspelt rule key ('expcet') is said once, with the key meant, and the rule is
        # checked as the kind that key gives it (not as another kind, with wrong hints).
        data = self.mend_rule_keys(data)
        # The same text passed the same schema before (a store's stamp): it would again.
        schema_errors = [] if schema_checked else schema_mod.validate(data, self.pos)

        tz_name = data.get("timezone", "UTC")
        tz = self.timezone(tz_name, ("timezone",))
        if isinstance(tz_name, str):
            self.default_tz = tz_name
        self.compile_calendars(data.get("calendars"))
        default_cal = None
        dc = data.get("default_calendar")
        if isinstance(dc, str):
            default_cal = self.calendar_ref(dc, ("default_calendar",))

        facts = self.compile_facts(data.get("facts"))
        rules = self.compile_rules(data.get("rules"), default_cal)
        retention = data.get("retention")
        facts_retention = None
        if isinstance(retention, dict) and "facts" in retention:
            facts_retention = self.duration(retention["facts"], ("retention", "facts"))
            if facts_retention is not None and facts_retention.exact_us <= 0:
                self.error(("retention", "facts"), "retention: facts must be longer than 0s (a key's facts would be "
                           "dropped at its own event); leave retention out to keep facts for good")

        # The schema and the compiler may both see one problem; keep the compiler's
        # (more specific) message where both point at the same place.
        taken = {(d.line, d.col) for d in self.errors}
        self.errors.extend(d for d in schema_errors if (d.line, d.col) not in taken)
        if self.errors:
            return None

        fields = data.get("fields") or {}
        # What the saved state of a run depends on: not prose, not actions, not lint-only shapes.
        # Retention only limits how long state is kept: adding or changing it keeps a store's state.
        # Extension keys (x-...) only hold YAML anchors: what rules merge from them is in the rules.
        settings = {k: v for k, v in data.items()
                    if k not in ("rules", "description", "owner", "events", "retention") and not k.startswith("x-")}
        return Playbook(
            name=data["playbook"],
            version=data["version"],
            description=data.get("description"),
            owner=data.get("owner"),
            file=self.pos.file,
            digest=digest,
            settings_digest=_digest(settings),
            rule_digests=tuple(
                (r["id"], _digest({k: v for k, v in r.items() if k not in ("description", "enabled", "actions")}))
                for r in data["rules"]
            ),
            timezone=tz or ZoneInfo("UTC"),
            timezone_name=tz_name if isinstance(tz_name, str) else "UTC",
            key_field=data.get("key", "account"),
            type_field=fields.get("type", "type"),
            time_field=fields.get("time", "time"),
            id_field=fields.get("id", "id"),
            calendars=dict(self.calendars),
            default_calendar=default_cal,
            facts=facts,
            rules=rules,
            events=_event_shapes(data.get("events")),
            facts_retention_us=None if facts_retention is None else facts_retention.exact_us,
        )

    def timezone(self, name: Any, path: Path) -> ZoneInfo | None:
        if not isinstance(name, str):
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            hint = suggest_timezone(name)
            self.error(path, f"unknown time zone {name!r}{hint}; use an IANA name such as 'America/New_York'")
            return None

    # -- calendars -------------------------------------------------------------------

    def compile_calendars(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            return
        self.calendar_names = set(spec)
        for name, cal_spec in spec.items():
            cal, diags = compile_calendar(
                name, cal_spec, default_tz=self.default_tz, positions=self.pos, path=("calendars", name)
            )
            self.errors.extend(diags)
            if cal is not None:
                self.calendars[name] = cal

    def calendar_ref(self, name: str, path: Path) -> Calendar | None:
        cal = self.calendars.get(name)
        if cal is None and name not in self.calendar_names:
            hint = did_you_mean(name, self.calendar_names)
            declared = f"; declared: {', '.join(sorted(self.calendar_names))}" if self.calendar_names and not hint else ""
            none = " (no calendars are declared)" if not self.calendar_names else ""
            self.error(path, f"unknown calendar {name!r}{hint}{declared}{none}")
        return cal

    def calendar_choice(self, value: Any, path: Path, default: Calendar | None) -> CalendarChoice | None:
        zone: ZoneInfo | None = None
        zone_template = None
        if isinstance(value, dict):  # {use: NAME_OR_TEMPLATE, timezone: ZONE_OR_TEMPLATE} (keys checked by the schema)
            tz_value = value.get("timezone")  # absent: the calendar's own zone, as calendar: NAME
            if "timezone" in value and not isinstance(tz_value, str):
                return None
            if not isinstance(tz_value, str):
                pass
            elif "{{" in tz_value:
                zone_template = self.template(tz_value, path + ("timezone",), TEMPLATE_NAMES)
                if zone_template is None:
                    return None
                zone_names()  # read now: the runtime does not read the file system
            else:
                zone = self.calendar_zone(tz_value, path + ("timezone",))
                if zone is None:
                    return None
            path = path + ("use",)
            value = value.get("use")
        if not isinstance(value, str):
            return None
        if "{{" in value:
            template = self.template(value, path, TEMPLATE_NAMES)
            if template is None:
                return None
            return CalendarChoice(None, template, default, dict(self.calendars), zone, zone_template)
        cal = self.calendar_ref(value, path)
        if cal is not None and zone is not None:
            cal = cal.in_zone(zone)
        return CalendarChoice(cal, None, default, dict(self.calendars), zone, zone_template)

    def calendar_zone(self, name: str, path: Path) -> ZoneInfo | None:
        """A calendar choice's fixed ``timezone:``, checked now (a template is checked at run time)."""
        zone = zone_named(name)
        if zone is None:
            problem = f"unknown time zone {name!r}{suggest_timezone(name)}" if name.strip() else "empty time zone"
            self.error(path, f"{problem}: use an IANA name such as 'Europe/Paris', or a template such as '{{{{ facts.tz }}}}'")
        return zone

    # -- small pieces ----------------------------------------------------------------

    def duration(self, value: Any, path: Path, *, calendar: bool = False) -> Duration | None:
        if value is None:
            return None
        try:
            d = parse_duration(value)
        except DurationError as exc:
            self.error(path, str(exc))
            return None
        if calendar and d.weeks:
            self.error(path, f"'w' cannot be used with a calendar: write business days instead (e.g. '{int(d.weeks * 5)}d')")
            return None
        if calendar and d.days != int(d.days):
            self.error(path, "with a calendar, days count whole business days: use hours for the fraction")
            return None
        return d

    def duration_choice(self, value: Any, path: Path, *, calendar: bool = False) -> DurationChoice | None:
        """A duration a rule takes per trigger: fixed, ``{by, cases, default}``, or a template."""
        if isinstance(value, str) and "{{" in value:
            template = self.template(value, path, PATTERN_NAMES)
            return None if template is None else DurationChoice(value, template=template)
        if isinstance(value, dict):
            by = self.expression(value.get("by"), path + ("by",))
            cases: dict[Any, Duration] = {}
            labels: list[tuple[Any, Duration]] = []
            ok = by is not None
            raw_cases = value.get("cases")
            if isinstance(raw_cases, dict):
                for written, text in raw_cases.items():
                    d = self.duration(text, path + ("cases", written), calendar=calendar)
                    if d is None:
                        ok = False
                        continue
                    case = self.pos.key_value(path + ("cases", written))  # `1:` is the number 1, `"1":` the text
                    cases[hashable(case)] = d
                    labels.append((case, d))
            else:
                ok = False
            default = None
            if "default" in value:
                default = self.duration(value["default"], path + ("default",), calendar=calendar)
                ok = ok and default is not None
            if not ok or by is None:
                return None
            parts = [f"{case}: {d.text}" for case, d in labels] + ([f"default: {default.text}"] if default else [])
            return DurationChoice(f"by {value.get('by')} ({', '.join(parts)})", by=by, cases=cases,
                                  case_labels=tuple(labels), default=default)
        d = self.duration(value, path, calendar=calendar)
        return None if d is None else DurationChoice(d.text, fixed=d)

    def deadline_at(self, value: Any, path: Path, *, calendar: bool) -> DeadlineAt | None:
        """``expect.deadline: {at: TEMPLATE, offset: [-]DURATION}``."""
        if not isinstance(value, dict) or not isinstance(value.get("at"), str):
            return None
        text = value["at"]
        template = self.template(text, path + ("at",), PATTERN_NAMES)
        if template is None:
            return None
        if "{{" not in text:
            try:
                parse_time(text)
            except TimeError as exc:
                self.error(path + ("at",), f"{exc}; or write a template such as '{{{{ trigger.contract_end }}}}'")
                return None
        offset = None
        negative = False
        raw = value.get("offset")
        if raw is not None:
            if isinstance(raw, str) and raw.strip()[:1] in ("-", "+"):
                negative = raw.strip()[0] == "-"
                raw = raw.strip()[1:]
            offset = self.duration(raw, path + ("offset",), calendar=calendar)
            if offset is None:
                return None
        return DeadlineAt(template, text, offset, negative)

    def expression(self, text: Any, path: Path, reserved: frozenset[str] = PATTERN_NAMES) -> Expression | None:
        if not isinstance(text, str):
            return None
        try:
            expr = compile_expression(text, reserved)
        except ExprError as exc:
            self.expr_error(path, text, exc)
            return None
        self.check_facts(expr.facts_used, path)
        return expr

    def template(self, text: str, path: Path, reserved: frozenset[str]):  # -> Template | None
        try:
            tpl = compile_template(text, reserved)
        except ExprError as exc:
            self.expr_error(path, text, exc)
            return None
        self.check_facts(tpl.facts_used, path)
        return tpl

    def check_facts(self, used: frozenset[str], path: Path) -> None:
        for name in sorted(used - self.fact_names):
            hint = did_you_mean(name, self.fact_names)
            self.error(path, f"unknown fact 'facts.{name}'{hint}: declare it under 'facts:'")

    def pattern(self, spec: Any, path: Path) -> Pattern | None:
        if isinstance(spec, (str, list)):
            spec = {"type": spec}
            type_path = path
        elif isinstance(spec, dict):
            type_path = path + ("type",)
        else:
            return None
        types_spec = spec.get("type")
        names = [types_spec] if isinstance(types_spec, str) else types_spec
        if not isinstance(names, list) or not names:
            return None
        types: set[str] = set()
        prefixes: list[str] = []
        ok = True
        for i, name in enumerate(names):
            p = type_path if isinstance(types_spec, str) else type_path + (i,)
            if not isinstance(name, str) or not name:
                ok = False
                continue
            star = name.find("*")
            if star == -1:
                types.add(name)
            elif star == len(name) - 1:
                prefixes.append(name[:-1])
            else:
                self.error(p, f"invalid event type {name!r}: '*' may only end a prefix glob such as 'incident.*'")
                ok = False
        matches = []
        match_spec = spec.get("match")
        if isinstance(match_spec, dict):
            for field_path, allowed in match_spec.items():
                values = allowed if isinstance(allowed, list) else [allowed]
                matches.append(FieldMatch(field_path, make_getter(field_path), _equality_test(values), tuple(values)))
        where = None
        if "where" in spec:
            where = self.expression(spec["where"], path + ("where",))
        if not ok:
            return None
        return Pattern(frozenset(types), tuple(prefixes), tuple(matches), where)

    def actions(self, spec: Any, path: Path, kind: str, reserved: frozenset[str] = TEMPLATE_NAMES,
                ) -> dict[str, tuple[ActionSpec, ...]]:
        out: dict[str, tuple[ActionSpec, ...]] = {}
        if not isinstance(spec, dict):
            return out
        for outcome_key, actions in spec.items():
            if outcome_key not in OUTCOMES[kind] or not isinstance(actions, list) or outcome_key == "on_progress":
                continue  # the schema reports it; stages are compiled by :meth:`stages`
            out[outcome_key[3:]] = self.action_list(actions, path + (outcome_key,), reserved)
        return out

    def action_list(self, actions: list[Any], path: Path, reserved: frozenset[str] = TEMPLATE_NAMES,
                    ) -> tuple[ActionSpec, ...]:
        compiled = []
        for i, action in enumerate(actions):
            apath = path + (i,)
            if not isinstance(action, dict) or not isinstance(action.get("do"), str):
                continue
            params = []
            sources = []
            used: set[str] = set()
            for name, value in action.items():
                if name == "do":
                    continue
                params.append((name, self.value_renderer(value, apath + (name,), used, reserved)))
                sources.append((name, value))
            compiled.append(ActionSpec(action["do"], i, tuple(params), tuple(sources), frozenset(used)))
        return tuple(compiled)

    def stages(self, spec: Any, path: Path, calendar: bool, has_target: bool,
               reserved: frozenset[str]) -> tuple[Stage, ...] | None:
        """``actions.on_progress``: stages at a percentage of the target or a duration after the trigger."""
        if not isinstance(spec, list):
            return ()
        stages: list[Stage] = []
        seen: dict[Any, tuple[int, str]] = {}  # the stage's instant as a value -> (index, label)
        ok = True
        for i, item in enumerate(spec):
            spath = path + (i,)
            if not isinstance(item, dict) or not isinstance(item.get("actions"), list):
                ok = False
                continue
            at = item.get("at")
            if isinstance(at, (int, float)) and not isinstance(at, bool):
                at = f"{at:g}%"  # a bare number is a percentage
            if not isinstance(at, str):
                ok = False
                continue
            label = at.strip()
            percent: float | None = None
            duration: Duration | None = None
            if label.endswith("%"):
                try:
                    percent = float(label[:-1])
                except ValueError:
                    percent = None
                if percent is None or not 0 < percent <= 100_000 or percent != percent:
                    self.error(spath + ("at",), f"invalid stage {at!r}: write a percentage of the target above 0 "
                               "(e.g. '50%', '200%') or a duration after the trigger (e.g. '2h')")
                    ok = False
                    continue
                if not has_target:
                    self.error(spath + ("at",), f"stage {at!r} is a percentage of the target, but the rule has no "
                               "deadline: give 'expect.within' or 'expect.deadline', or write the stage as a duration (e.g. '2h')")
                    ok = False
            else:
                duration = self.duration(label, spath + ("at",), calendar=calendar)
                if duration is None:
                    ok = False
                    continue
                if duration.exact_us <= 0:
                    self.error(spath + ("at",), "a stage must come after the trigger: write a duration above zero")
                    ok = False
                    continue
            # 50% and 50.0%, or 30m and 0.5h, are one instant: compared by value, not spelling.
            value = ("%", percent) if duration is None else ("at", duration.weeks, duration.days, duration.clock_us)
            if value in seen:
                first, first_label = seen[value]
                same = f"stage {label!r} is listed twice" if first_label == label else \
                    f"stage {label!r} is the same instant as stage {first_label!r}"
                self.error(spath + ("at",), f"{same} (first at line {self.pos.at(path + (first, 'at'))[0]}): "
                           "merge their actions")
                ok = False
                continue
            seen[value] = (i, label)
            stages.append(Stage(i, label, percent, duration,
                                self.action_list(item["actions"], spath + ("actions",), reserved | {"stage"})))
        return tuple(stages) if ok else None

    def value_renderer(self, value: Any, path: Path, used: set[str] | None = None,
                       reserved: frozenset[str] = TEMPLATE_NAMES) -> Callable[[Scope], Any]:
        """Compile a parameter value (templates inside nested lists/maps too); the names
        its templates read are added to ``used``. ``reserved``: the names that are not
        event fields (the outcome's context)."""
        if isinstance(value, str):
            if "{{" not in value:
                if len(value) > MAX_SIZE:
                    self.error(path, f"this value is {len(value)} characters long; the limit for a value is {MAX_SIZE}")
                return _constant(value)
            tpl = self.template(value, path, reserved)
            if tpl is None:
                return lambda scope: None
            if used is not None:
                used.update(tpl.names_used)
            return tpl.render
        if isinstance(value, list):
            items = [self.value_renderer(v, path + (i,), used, reserved) for i, v in enumerate(value)]
            return _bounded_list(items)
        if isinstance(value, dict):
            entries = [(k, self.value_renderer(v, path + (k,), used, reserved)) for k, v in value.items()]
            return _bounded_dict(entries)
        return _constant(value)

    # -- facts -----------------------------------------------------------------------

    def compile_facts(self, spec: Any) -> tuple[Fact, ...]:
        if not isinstance(spec, dict):
            return ()
        self.fact_names = set(spec)
        facts = []
        for name, fspec in spec.items():
            path = ("facts", name)
            if not isinstance(fspec, dict):
                continue
            source = self.pattern(fspec.get("from"), path + ("from",))
            raw = fspec.get("value")
            value_expr = None
            constant = raw
            if isinstance(raw, str):
                value_expr = self.expression(raw, path + ("value",))
                if value_expr is not None and value_expr.is_constant:
                    try:
                        constant = value_expr.evaluate(Scope({}, {}, ZoneInfo("UTC")))
                    except EvalError as exc:
                        self.error(path + ("value",), f"the value always fails: {exc.message}")
                        continue
                    value_expr = None
            collect = fspec.get("collect", "last")
            if source is None or collect not in ("last", "first", "set", "count", "sum", "min", "max"):
                continue
            facts.append(Fact(name, source, value_expr, constant, collect))
        return tuple(facts)

    # -- rules -----------------------------------------------------------------------

    def compile_rules(self, spec: Any, default_cal: Calendar | None) -> tuple[Rule, ...]:
        if not isinstance(spec, list):
            return ()
        seen: dict[str, int] = {}
        rules: list[Rule] = []
        for index, rspec in enumerate(spec):
            path: Path = ("rules", index)
            if not isinstance(rspec, dict):
                continue
            rid = rspec.get("id")
            if isinstance(rid, str):
                if rid in seen:
                    self.error(path + ("id",), f"duplicate rule id {rid!r} (first used at line {self.pos.at(('rules', seen[rid], 'id'))[0]})")
                else:
                    seen[rid] = index
            if "every" in rspec:
                rule = self.cadence_rule(rspec, path, index, default_cal)
            elif "expect" in rspec and "when" in rspec:
                rule = self.response_rule(rspec, path, index, default_cal)
            elif "when" in rspec:
                rule = self.signal_rule(rspec, path, index)
            else:
                if "expect" in rspec:
                    self.error(path, "a rule with 'expect' needs 'when' (a response rule) or 'every' (a cadence rule)")
                else:
                    self.error(path, "cannot tell the rule's kind: give it 'when' (signal), 'when' + 'expect' (response) or 'every' (cadence)")
                continue
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def mend_rule_keys(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with each rule's misspelt keys ('expcet', 'evrey', 'whne', 'strat') read as
        the keys meant, each reported once as "did you mean"; the data is not changed in place.

        A key no rule kind knows is first compared with the keys that decide a rule's kind
        (every, expect, when), then, the kind known, with that kind's keys. Keys without a
        close match are left to the schema (which lists the keys allowed)."""
        spec = data.get("rules")
        if not isinstance(spec, list):
            return data
        known = _rule_keys()
        mended_rules: list[Any] = []
        for index, rspec in enumerate(spec):
            unknown = [k for k in rspec if isinstance(k, str) and k not in known["any"]] if isinstance(rspec, dict) else []
            if not unknown:
                mended_rules.append(rspec)
                continue
            path: Path = ("rules", index)
            renames: dict[str, str] = {}
            written = [k for k in rspec if k not in unknown]
            for key in unknown:  # first the keys that decide the kind
                meant = _closest(key, _KIND_KEYS)
                if meant and meant not in rspec and meant not in renames.values():
                    # Only when the kind it gives has every key written (an 'event' beside
                    # 'when' and 'expect' is not a misspelt 'every': that would be a cadence).
                    kind = _rule_kind({*written, *renames.values(), meant})
                    if kind is not None and all(k in known[kind] for k in written):
                        renames[key] = meant
            kind = _rule_kind({renames.get(k, k) for k in rspec})
            for key in unknown:
                meant = _closest(key, known[kind] if kind else known["any"])
                if key not in renames and meant and meant not in rspec and meant not in renames.values():
                    renames[key] = meant
            if not renames:
                mended_rules.append(rspec)
                continue
            where = f"a {kind} rule" if kind else "a rule"
            for key, meant in renames.items():
                self.error(path + (key,), f"unknown key '{key}' in {where} (did you mean '{meant}'?)", key=True)
                self.pos.alias(path + (key,), path + (meant,))
            mended_rules.append({renames.get(k, k): v for k, v in rspec.items()})
        return {**data, "rules": mended_rules}

    def common(self, rspec: dict[str, Any], path: Path, index: int, kind: str) -> dict[str, Any] | None:
        rid = rspec.get("id")
        actions = self.actions(rspec.get("actions"), path + ("actions",), kind,
                               outcome_names(kind, rspec))  # compiled (and checked) anyway
        if not isinstance(rid, str):
            return None
        return {
            "id": rid,
            "index": index,
            "description": rspec.get("description"),
            "enabled": rspec.get("enabled", True) is not False,
            "actions": actions,
        }

    def response_rule(self, r: dict[str, Any], path: Path, index: int, default_cal: Calendar | None) -> Rule | None:
        base = self.common(r, path, index, "response")
        when = self.pattern(r.get("when"), path + ("when",))
        unless = self.expression(r.get("unless"), path + ("unless",)) if "unless" in r else None
        exp = r.get("expect")
        if not isinstance(exp, dict):
            return None
        epath = path + ("expect",)
        expect = self.pattern({k: v for k, v in exp.items() if k in ("type", "match", "where")}, epath)
        calendar = self.calendar_choice(exp.get("calendar"), epath + ("calendar",), default_cal) if "calendar" in exp else None
        on_cal = calendar is not None
        within = self.duration_choice(exp.get("within"), epath + ("within",), calendar=on_cal) if "within" in exp else None
        deadline = self.deadline_at(exp.get("deadline"), epath + ("deadline",), calendar=on_cal) if "deadline" in exp else None
        before = self.pattern(exp.get("before"), epath + ("before",)) if "before" in exp else None
        if "within" in exp and "deadline" in exp:
            self.error(epath + ("deadline",), "write either 'within' (a time after the trigger) or 'deadline' "
                       "(an instant the trigger carries), not both", key=True)
        elif "within" not in exp and "before" not in exp and "deadline" not in exp:
            self.error(epath, "a response rule's expect needs 'within' (a deadline after the trigger), 'deadline' "
                       "(an instant the trigger carries), 'before' (a competing event), or 'before' with one of the others", key=True)
        has_target = "within" in exp or "deadline" in exp
        expire = self.duration_choice(r.get("expire", DEFAULT_EXPIRE), path + ("expire",))
        remind = self.duration_choice(r.get("remind_before"), path + ("remind_before",), calendar=on_cal) \
            if "remind_before" in r else None
        if "remind_before" in r and not has_target:
            self.error(path + ("remind_before",), "remind_before needs a deadline to remind of: give 'expect.within' "
                       "or 'expect.deadline'", key=True)
        if within is not None and remind is not None and within.fixed is not None and remind.fixed is not None:
            if calendar is None:
                too_long = remind.fixed.exact_us >= within.fixed.exact_us
            else:
                cals = [calendar.fixed] if calendar.fixed is not None else list(calendar.calendars.values())
                too_long = any(_work_us(remind.fixed, c, longest=False) >= _work_us(within.fixed, c, longest=True)
                               for c in cals if c)
            if too_long:
                self.error(path + ("remind_before",), f"remind_before ({remind.text}) must be shorter than within "
                           f"({within.text}): the reminder would come before the trigger")
        pause = self.pattern(r.get("pause"), path + ("pause",)) if "pause" in r else None
        resume = self.pattern(r.get("resume"), path + ("resume",)) if "resume" in r else None
        if ("pause" in r) != ("resume" in r):
            given, missing = ("pause", "resume") if "pause" in r else ("resume", "pause")
            self.error(path + (given,), f"'{given}' needs '{missing}': a paused obligation's clock runs again on "
                       "the resume event", key=True)
        actions = r.get("actions")
        stages = self.stages(actions.get("on_progress") if isinstance(actions, dict) else None,
                             path + ("actions", "on_progress"), on_cal, has_target, outcome_names("response", r))
        same = exp.get("same") or []
        if not isinstance(same, list) or not all(isinstance(s, str) for s in same):
            return None
        if len(set(same)) != len(same):
            self.error(epath + ("same",), "a field is listed twice in 'same'")
        if base is None or when is None or expect is None or expire is None or stages is None:
            return None
        if ("within" in exp and within is None) or ("deadline" in exp and deadline is None):
            return None
        if ("remind_before" in r and remind is None) or ("pause" in r and pause is None) or ("resume" in r and resume is None):
            return None
        return ResponseRule(
            **base,
            when=when,
            unless=unless,
            expect=expect,
            same=tuple(same),
            same_getters=tuple(make_getter(s) for s in same),
            within=within.fixed if within is not None else None,
            before=before,
            calendar=calendar,
            overlap_each=r.get("overlap", "first") == "each",
            expire_us=expire.fixed.exact_us if expire.fixed is not None else 0,
            expire_open="expire" in r,
            within_choice=within if within is not None and within.fixed is None else None,
            expire_choice=expire if expire.fixed is None else None,
            deadline=deadline,
            remind_before=remind,
            pause=pause,
            resume=resume,
            stages=stages,
        )

    def cadence_rule(self, r: dict[str, Any], path: Path, index: int, default_cal: Calendar | None) -> Rule | None:
        base = self.common(r, path, index, "cadence")
        calendar = self.calendar_choice(r.get("calendar"), path + ("calendar",), default_cal) if "calendar" in r else None
        every = self.duration(r.get("every"), path + ("every",), calendar=calendar is not None)
        remind_choice = self.duration_choice(r.get("remind_before"), path + ("remind_before",), calendar=calendar is not None) \
            if "remind_before" in r else None
        remind = remind_choice.fixed if remind_choice is not None else None
        start = self.pattern(r.get("start"), path + ("start",)) if "start" in r else None
        stop = self.pattern(r.get("stop"), path + ("stop",)) if "stop" in r else None
        expect = self.pattern(r.get("expect"), path + ("expect",)) if "expect" in r else None
        if every is not None and every.exact_us <= 0:
            self.error(path + ("every",), "'every' must be longer than zero")
        if every is not None and remind is not None:
            if calendar is None:
                too_long = remind.exact_us >= every.exact_us
            else:
                # In working time: the longest the reminder can take against the shortest
                # a period can be, on each calendar the rule may use.
                cals = [calendar.fixed] if calendar.fixed is not None else list(calendar.calendars.values())
                too_long = any(_work_us(remind, c, longest=True) >= _work_us(every, c, longest=False) for c in cals if c)
            if too_long:
                self.error(path + ("remind_before",), f"remind_before ({remind.text}) must be shorter than every ({every.text})"
                           + (" in working time on its calendar" if calendar is not None else ""))
        if base is None or every is None or start is None or expect is None:
            return None
        if "remind_before" in r and remind_choice is None:
            return None
        return CadenceRule(**base, every=every, start=start, stop=stop, expect=expect, remind_before=remind, calendar=calendar,
                           remind_choice=remind_choice if remind is None else None)

    def signal_rule(self, r: dict[str, Any], path: Path, index: int) -> Rule | None:
        base = self.common(r, path, index, "signal")
        when = self.pattern(r.get("when"), path + ("when",))
        unless = self.expression(r.get("unless"), path + ("unless",)) if "unless" in r else None
        cooldown = self.duration(r.get("cooldown"), path + ("cooldown",))
        threshold = r.get("threshold")
        count = within = None
        if isinstance(threshold, dict):
            c = threshold.get("count")
            if isinstance(c, int) and not isinstance(c, bool):
                if c < 1:
                    self.error(path + ("threshold", "count"), f"threshold count must be at least 1, not {c}")
                count = c
            within = self.duration(threshold.get("within"), path + ("threshold", "within"))
        group_by = r.get("group_by") or []
        if not isinstance(group_by, list) or not all(isinstance(g, str) for g in group_by):
            return None
        if base is None or when is None:
            return None
        if "cooldown" in r and cooldown is None:
            return None
        if threshold is not None and (count is None or within is None):
            return None
        return SignalRule(
            **base,
            when=when,
            unless=unless,
            threshold_count=count,
            threshold_within_us=within.exact_us if within else None,
            cooldown_us=cooldown.exact_us if cooldown else None,
            group_by=tuple(group_by),
            group_getters=tuple(make_getter(g) for g in group_by),
        )


def outcome_names(kind: str, rspec: dict[str, Any]) -> frozenset[str]:
    """The names an action's templates read from the outcome rather than the event: those of
    version 1, ``paused_for`` in a rule with ``pause`` and ``stage`` in a stage's actions (only
    there, so an event field of that name stays readable everywhere else)."""
    if kind == "response" and "pause" in rspec:
        return TEMPLATE_NAMES | {"paused_for"}
    return TEMPLATE_NAMES


#: The keys that decide a rule's kind (compile_rules): 'every', 'expect' with 'when', 'when'.
_KIND_KEYS = ("every", "expect", "when")


def _rule_kind(keys: Collection[str]) -> str | None:
    """The kind of a rule with these keys, as :meth:`_Compiler.compile_rules` decides it."""
    if "every" in keys:
        return "cadence"
    if "expect" in keys and "when" in keys:
        return "response"
    return "signal" if "when" in keys else None


def _rule_keys() -> dict[str, frozenset[str]]:
    """The keys of each rule kind (by the schema), and of any kind."""
    defs = schema_mod.schema()["$defs"]
    out = {kind: frozenset(defs[f"{kind}Rule"]["properties"]) for kind in ("response", "cadence", "signal")}
    out["any"] = frozenset().union(*out.values())
    return out


def _closest(word: str, choices: Collection[str]) -> str | None:
    hint = did_you_mean(word, choices)
    return hint[len(" (did you mean '"):-len("'?)")] if hint else None


def _work_us(d: Duration, calendar: Calendar, *, longest: bool) -> int:
    """Open time a calendar duration covers: business days at their longest or shortest, plus h/m/s."""
    day_minutes = [sum(end - start for start, end in day) for day in calendar.hours]
    open_days = [m for m in day_minutes if m > 0] or [0]
    per_day = (max(open_days) if longest else min(open_days)) * 60 * 1_000_000
    return int(d.days) * per_day + d.clock_us


def _event_shapes(spec: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    """``events:`` (validated by the schema): type -> field -> a tuple of JSON type names."""
    if not isinstance(spec, dict):
        return {}
    shapes: dict[str, dict[str, tuple[str, ...]]] = {}
    for etype, fields in spec.items():
        if isinstance(fields, dict):
            shapes[etype] = {
                name: tuple(kinds) if isinstance(kinds, list) else (kinds,) for name, kinds in fields.items()
            }
    return shapes


def _equality_test(values: list[Any]) -> Callable[[Any], bool]:
    """``match`` for one field: equal (in the language's sense) to any of ``values``."""
    if all(isinstance(v, str) for v in values):
        allowed = frozenset(values)
        return lambda v: type(v) is str and v in allowed
    frozen = tuple(values)
    return lambda v: any(equals(v, a) for a in frozen)


def _bounded_list(items: list[Callable[[Scope], Any]]) -> Callable[[Scope], Any]:
    """A list parameter: rendered item by item, refused (EvalError) once it weighs more than
    the limit for a value, before the rest is rendered."""

    def render(scope: Scope) -> Any:
        out = []
        total = 1
        for r in items:
            v = r(scope)
            total += value_weight(v)
            if total > MAX_SIZE:
                raise too_big("this list")
            out.append(v)
        return out

    return render


def _bounded_dict(entries: list[tuple[str, Callable[[Scope], Any]]]) -> Callable[[Scope], Any]:
    """An object parameter, bounded as :func:`_bounded_list`."""

    def render(scope: Scope) -> Any:
        out = {}
        total = 1
        for k, r in entries:
            v = r(scope)
            total += value_weight(k) + value_weight(v)
            if total > MAX_SIZE:
                raise too_big("this object")
            out[k] = v
        return out

    return render


def _constant(value: Any) -> Callable[[Scope], Any]:
    def render(scope: Scope) -> Any:
        return value

    return render
