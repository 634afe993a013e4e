"""Editor completion: every key of the playbook schema has a description and examples, and they are right.

yaml-language-server (VS Code's YAML extension and others) shows a key's
``description`` on hover and offers its ``examples`` as completions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT

SCHEMA = json.loads((ROOT / "schemas" / "playbook.schema.json").read_text())
DEFS = SCHEMA["$defs"]


def resolve(node: Any) -> dict[str, Any]:
    """A schema node with its ``$ref`` merged in (the node's own keys win, as in 2020-12)."""
    if isinstance(node, dict) and "$ref" in node:
        merged = dict(resolve(DEFS[node["$ref"].rsplit("/", 1)[1]]))
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return merged
    return node if isinstance(node, dict) else {}


def keys(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, schema, the node as written) for every named key and every map-entry schema."""
    node = resolve(node)
    for name, sub in node.get("properties", {}).items():
        yield f"{path}.{name}", resolve(sub), sub
        yield from keys(sub, f"{path}.{name}")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield f"{path}.*", resolve(extra), extra
        yield from keys(extra, f"{path}.*")
    if isinstance(node.get("items"), dict):
        yield from keys(node["items"], f"{path}[]")
    for word in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(node.get(word, [])):
            yield from keys(sub, f"{path}|{i}")
    for word in ("then", "else"):
        if word in node:
            yield from keys(node[word], f"{path}<{word}>")


ALL = list(keys(SCHEMA))


def test_the_walk_sees_every_part_of_the_schema() -> None:
    paths = {p for p, _, _ in ALL}
    for expected in (".rules[]<then>.remind_before", ".rules[]<else><then>.expect.before", ".events.*.*",
                     ".calendars.*.holidays|1.country", ".fields.time", ".facts.*.collect"):
        assert expected in paths


@pytest.mark.parametrize(("path", "node"), [(p, n) for p, n, _ in ALL], ids=[p for p, _, _ in ALL])
def test_every_key_has_a_description(path: str, node: dict[str, Any]) -> None:
    assert node.get("description"), f"{path} has no description"


@pytest.mark.parametrize(("path", "node"), [(p, n) for p, n, _ in ALL if not p.endswith("*")],
                         ids=[p for p, _, _ in ALL if not p.endswith("*")])
def test_every_key_has_examples(path: str, node: dict[str, Any]) -> None:
    assert node.get("examples"), f"{path} has no examples"


def test_every_example_is_valid_where_it_stands() -> None:
    checked = 0
    for path, node, _ in ALL + [("(root)", resolve(SCHEMA), SCHEMA)] + [(f"$defs.{k}", resolve(v), v) for k, v in DEFS.items()]:
        sub = {k: v for k, v in node.items() if k not in ("examples",)}
        validator = jsonschema.Draft202012Validator({**sub, "$defs": DEFS})
        for example in node.get("examples", []):
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, f"{path}: example {example!r} is invalid: {errors}"
            checked += 1
    assert checked > 80


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
