"""Validation of playbook data against ``schemas/playbook.schema.json``.

The JSON Schema is the single source of the playbook's shape, shared with
editors. This module maps each jsonschema error back to the file position of
the offending value (or key) and rewrites the message into something a
playbook author can act on.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Diagnostic
from .loader import Positions
from .messages import describe, did_you_mean

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

# jsonschema (~0.08 s to import) is imported by the first validation: a run whose
# playbooks a store has seen checked (checked_stamp) never imports it.

_TYPE_NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def schema_text() -> str:
    """The playbook JSON Schema, as shipped (``schemas/playbook.schema.json``)."""
    here = Path(__file__).resolve().parent
    for path in (here / "_schema" / "playbook.schema.json",  # an installed wheel
                 here.parent / "schemas" / "playbook.schema.json"):  # a checkout, an editable install
        if path.is_file():
            return path.read_text(encoding="utf-8")
    from importlib import resources  # imported from a zip (zipapp, pex)

    return resources.files("engine").joinpath("_schema/playbook.schema.json").read_text(encoding="utf-8")


@cache
def schema() -> dict[str, Any]:
    return json.loads(schema_text())


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


# Bump when the loader reads the same YAML text into other data.
_STAMP_FORMAT = "2"  # 2: merge keys (<<) are merged, not read as a key named "<<"


@cache
def _engine_schema_digest() -> str:
    import yaml

    from . import __version__

    return hashlib.sha256(f"{_STAMP_FORMAT}\0{__version__}\0{yaml.__version__}\0{schema_text()}".encode()).hexdigest()


def checked_stamp(text_digest: str) -> str:
    """The stamp of a playbook text (by its digest) that passed this schema in this engine.

    A store keeps the stamps of the playbooks it ran; a later run over the same text,
    by the same engine release, YAML reader and schema, skips the schema check it would
    pass again (:func:`engine.load_playbook`'s ``schema_checked``). The compiler's own
    checks always run, and a stamp is only a hint: a playbook the compiler cannot take
    without the check is compiled again with it (so a wrong stamp costs time, not a
    crash or a missing message).
    """
    return hashlib.sha256(f"{_engine_schema_digest()}\0{text_digest}".encode()).hexdigest()[:32]


def source_schema_text() -> str:
    """The source-mapping JSON Schema, as shipped (``schemas/source.schema.json``)."""
    here = Path(__file__).resolve().parent
    for path in (here / "_schema" / "source.schema.json", here.parent / "schemas" / "source.schema.json"):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    from importlib import resources

    return resources.files("engine").joinpath("_schema/source.schema.json").read_text(encoding="utf-8")


@cache
def _source_validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(source_schema_text()))


def validate_source(data: Any, positions: Positions) -> list[Diagnostic]:
    """Every error in a source mapping's data (``schemas/source.schema.json``), located and explained."""
    from dataclasses import replace

    return [replace(d, message=d.message.replace(" at the top of the playbook", " at the top of the source file"))
            for d in _validate(_source_validator(), data, positions)]


def validate(data: Any, positions: Positions) -> list[Diagnostic]:
    """Every schema error in ``data``, located and explained."""
    return _validate(_validator(), data, positions)


def _validate(validator: jsonschema.Draft202012Validator, data: Any, positions: Positions) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for error in validator.iter_errors(data):
        for diag in _explain(error, positions):
            if diag not in out:  # jsonschema reports 'required' once per missing key
                out.append(diag)
    return out


def _where(error: ValidationError) -> str:
    if not list(error.absolute_path):
        return " at the top of the playbook"
    title = error.schema.get("title") if isinstance(error.schema, dict) else None
    if title:
        if title.startswith("the "):
            return f" in {title}"
        return f" in {'an' if title[0] in 'aeiou' else 'a'} {title}"
    return ""


def _explain(error: ValidationError, positions: Positions) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    validator: Any = error.validator
    instance = error.instance
    validator_value: Any = error.validator_value
    sub = error.schema if isinstance(error.schema, dict) else {}

    if validator in ("anyOf", "oneOf") and error.context:
        # A type error inside a branch whose own type fits (a field of the mapping) is meaningful too.
        meaningful = [e for e in error.context if e.validator != "type" or e.path]
        if meaningful:
            from jsonschema.exceptions import best_match

            return _explain(best_match(meaningful), positions)
        types: list[str] = []
        for e in error.context:
            t: Any = e.validator_value
            for name in t if isinstance(t, list) else [t]:
                label = _TYPE_NAMES.get(name, str(name))
                if label not in types:
                    types.append(label)
        return [positions.diag(path, f"expected {' or '.join(types)}, got {describe(instance)}")]

    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(sub.get("properties", {}))
        extra = [k for k in instance if k not in allowed and not _pattern_allowed(sub, k)]
        diags = []
        for key in extra:
            hint = did_you_mean(key, allowed)
            known = f"; allowed: {', '.join(sorted(allowed))}" if not hint and allowed else ""
            diags.append(positions.diag(path + (key,), f"unknown key '{key}'{_where(error)}{hint}{known}", key=True))
        return diags

    if validator == "required":
        missing = [k for k in validator_value if isinstance(instance, dict) and k not in instance]
        return [
            positions.diag(path, f"missing required key '{k}'{_where(error)}", key=bool(path))
            for k in missing
        ]

    if validator == "type":
        expected = validator_value
        names = [_TYPE_NAMES.get(t, str(t)) for t in (expected if isinstance(expected, list) else [expected])]
        return [positions.diag(path, f"expected {' or '.join(names)}, got {describe(instance)}")]

    if validator == "enum":
        choices = [str(c).lower() if isinstance(c, bool) else str(c) for c in validator_value]
        hint = did_you_mean(str(instance), choices) if isinstance(instance, str) else ""
        return [positions.diag(path, f"{_show(instance)} is not one of: {', '.join(choices)}{hint}")]

    if validator == "const" and path == ("version",):
        return [positions.diag(path, f"unsupported version {_show(instance)}: this engine reads playbook language version 1")]

    if validator == "pattern":
        if sub.get("pattern", "").startswith("^[a-z0-9]"):
            return [positions.diag(path, f"invalid name {_show(instance)}: start with a lower-case letter or digit, then use a-z 0-9 . _ -")]
        if "wdhms" in sub.get("pattern", ""):
            return [positions.diag(path, f"invalid duration {_show(instance)}: write <number><unit> repeated, units w d h m s (e.g. '4h', '1h30m')")]

    if validator == "minItems" and path == ("rules",):
        return [positions.diag(path, "a playbook needs at least one rule")]

    if validator == "minimum":
        return [positions.diag(path, f"{_show(instance)} is too small: the minimum is {validator_value}")]

    return [positions.diag(path, error.message)]


def _pattern_allowed(sub: dict[str, Any], key: str) -> bool:
    import re

    return any(re.search(p, key) for p in sub.get("patternProperties", {}))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value)
