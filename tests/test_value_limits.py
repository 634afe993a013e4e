"""Every value an expression or a template makes is bounded by the one limit (spec section 5:
"bounded work"), found before the value is built whole: no playbook and no event can make
one event produce a huge parameter. Memory, not time, is measured (tracemalloc): a bound on
what is built is deterministic where a stopwatch is not."""

from __future__ import annotations

import contextlib
import json
import tracemalloc
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from engine import Engine, PlaybookError, load_playbook
from engine.expressions import (
    MAX_SIZE,
    TEMPLATE_NAMES,
    EvalError,
    ExprError,
    Scope,
    compile_expression,
    compile_template,
)

AT = "2026-03-02T14:00:00Z"


def peak_bytes(fn: Callable[[], Any]) -> int:
    """The most memory ``fn`` held at once (what it built, whether it then failed or not)."""
    tracemalloc.start()
    try:
        with contextlib.suppress(EvalError):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def render(text: str, **bare: Any) -> Any:
    scope = Scope({"at": AT}, bare, UTC)
    return compile_template(text).render(scope)


# --- templates: the whole text, each part -------------------------------------------------------


def test_a_template_of_many_parts_is_refused_before_it_is_built() -> None:
    text = "{{ s }}" * 30_000
    s = "x" * 113  # 30,000 parts of 113 characters: 3.39M characters
    with pytest.raises(EvalError, match="longer than the limit"):
        render(text, s=s)
    assert peak_bytes(lambda: render(text, s=s)) < 2_000_000
    # Up to the limit it renders as before.
    assert render("{{ s }}" * 100, s="x" * 1000) == "x" * MAX_SIZE
    with pytest.raises(EvalError, match="limit"):
        render("{{ s }}" * 100 + "!", s="x" * 1000)


def test_strftime_results_are_bounded_without_being_built() -> None:
    # '%c' is 24 characters: 50,000 of them would be 1.2M characters.
    one = "{{ local(at, '%c' * 50000) }}"
    with pytest.raises(EvalError, match=r"local\(\)'s result would be longer than the limit"):
        render(one)
    many = " ".join([one] * 200)  # the 5.9 KB playbook that made a 240 MB parameter
    with pytest.raises(EvalError, match="limit"):
        render(many)
    assert peak_bytes(lambda: render(many)) < 2_000_000
    # Field widths are directives too: '%1000Y' is 1000 characters.
    with pytest.raises(EvalError, match="limit"):
        render("{{ local(at, '%1000Y' * 200) }}")
    # A long format that stays under the limit renders exactly as strftime does.
    fmt = "%Y-%m-%d %H:%M %% %-d %_H %1000Y|" * 20
    expected = compile_expression(f"local(at, {fmt[:60]!r})", TEMPLATE_NAMES).evaluate(Scope({"at": AT}, None, UTC))
    assert render("{{ local(at, '" + fmt + "') }}").startswith(expected[:20])
    from datetime import datetime

    assert render("{{ local(at, '" + fmt + "') }}") == datetime(2026, 3, 2, 14, 0, tzinfo=UTC).strftime(fmt)


def test_a_whole_template_value_keeps_its_type_up_to_the_limit() -> None:
    assert render("{{ items }}", items=[1, 2]) == [1, 2]
    with pytest.raises(EvalError, match="limit"):
        render("{{ s }}", s="x" * (MAX_SIZE + 1))
    with pytest.raises(EvalError, match="limit"):
        render("{{ [e, e, e] }}", e={"k": "v" * 40_000})


def test_str_of_a_large_value_is_refused_without_rendering_it() -> None:
    e = compile_expression("len(str(v))")
    ok = Scope({}, {"v": [1] * 1000}, UTC)
    assert e.evaluate(ok) == 2001
    # 99,999 numbers weigh under the limit but their text is 2.3M characters.
    big = Scope({}, {"v": [1e300] * 99_999}, UTC)
    with pytest.raises(EvalError, match="longer than the limit"):
        e.evaluate(big)
    heavy = Scope({}, {"v": [[0] * 1000] * 1000}, UTC)  # one million items, shared
    with pytest.raises(EvalError, match="limit"):
        e.evaluate(heavy)
    assert peak_bytes(lambda: e.evaluate(heavy)) < 2_000_000


def test_list_and_object_literals_cannot_multiply_a_large_field() -> None:
    big = {"k": "v" * 30_000}
    sc = Scope({}, {"e": big}, UTC)
    refs = ", ".join(["e"] * 1000)
    for text in (f"[{refs}] == [{refs}]", f"len([{refs}])", "{'a': e, 'b': e, 'c': e, 'd': e}"):
        with pytest.raises(EvalError, match="limit"):
            compile_expression(text).evaluate(sc)
    # A single large field in a list is not amplification: it stays allowed.
    assert compile_expression("len([e])").evaluate(Scope({}, {"e": "x" * 200_000}, UTC)) == 1
    assert compile_expression("[e, 1]").evaluate(sc) == [big, 1]


def test_format_duration_and_case_functions_stay_bounded() -> None:
    assert len(compile_expression("format_duration(1e300)").evaluate(Scope({}, None, UTC))) < 400
    for n in (10**4000, 10**5000):  # integers from event data are not floats: still bounded
        with pytest.raises(EvalError):
            compile_expression("format_duration(n)").evaluate(Scope({}, {"n": n}, UTC))
    assert len(compile_expression("str(n)").evaluate(Scope({}, {"n": 10**4000}, UTC))) == 4001
    with pytest.raises(EvalError, match="limit"):
        render("{{ upper(s) }}", s="ß" * 60_000)  # 'SS': twice as long


# --- validate refuses what is already too large ----------------------------------------------------


def _write(tmp_path: Path, message: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        "playbook: big\nversion: 1\nrules:\n  - id: sig\n    when: {type: ping}\n"
        f"    actions:\n      on_match:\n        - do: note\n          message: \"{message}\"\n"
    )
    return path


def test_validate_refuses_a_template_whose_fixed_text_is_over_the_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, "x" * MAX_SIZE + "{{ key }}!")
    with pytest.raises(PlaybookError) as info:
        load_playbook(str(path))
    (d,) = info.value.diagnostics
    assert (d.line, d.col) == (9, 21)  # where the text begins
    assert "fixed text (outside {{ }}, with its constant parts) is longer than the limit for a value (100000" in d.message
    # Folded constants count as fixed text.
    path = _write(tmp_path, "{{ 'a' * 60000 }}{{ 'b' * 60000 }}")
    with pytest.raises(PlaybookError, match="fixed text .* is longer than the limit for a value"):
        load_playbook(str(path))
    path = _write(tmp_path, "y" * (MAX_SIZE + 1))
    with pytest.raises(PlaybookError) as info:
        load_playbook(str(path))
    assert "this value is 100001 characters long" in str(info.value)
    assert ":9:" in str(info.value)
    # At the limit it is fine.
    load_playbook(str(_write(tmp_path, "x" * (MAX_SIZE - 9) + "{{ key }}")))


def test_compile_template_reports_the_static_size() -> None:
    with pytest.raises(ExprError, match="fixed text"):
        compile_template("a" * MAX_SIZE + "{{ x }}b")
    with pytest.raises(ExprError, match="this text is"):
        compile_template("a" * (MAX_SIZE + 1))


# --- through the engine: null and reported ------------------------------------------------------------


def _engine(tmp_path: Path, actions: str) -> Engine:
    path = tmp_path / "p.yaml"
    path.write_text(
        "playbook: amp\nversion: 1\nrules:\n  - id: sig\n    when: {type: ping}\n"
        f"    actions:\n      on_match:\n{actions}"
    )
    return Engine([load_playbook(str(path))])


def _run(engine: Engine, **fields: Any) -> dict[str, Any]:
    event = {"type": "ping", "time": AT, "account": "a", **fields}
    (action,) = list(engine.run([event]))
    return action.record()["params"]


def test_an_oversized_parameter_is_null_and_reported(tmp_path: Path) -> None:
    parts = " ".join(["{{ local(at, '%c' * 50000) }}"] * 200)
    engine = _engine(tmp_path, f"        - {{do: note, message: \"{parts}\", ok: fine}}\n")
    params = _run(engine)
    assert params == {"message": None, "ok": "fine"}
    (where,) = engine.summary.expression_errors
    assert where == "amp: sig on_match[0].message"
    assert "limit" in engine.summary.expression_errors[where].samples[0][1]


def test_list_and_object_parameters_are_bounded_item_by_item(tmp_path: Path) -> None:
    items = ", ".join(['"{{ s }}"'] * 20)
    engine = _engine(tmp_path, f"        - {{do: note, list: [{items}], map: {{a: '{{{{ s }}}}', b: '{{{{ s }}}}', c: '{{{{ s }}}}'}}}}\n")
    params = _run(engine, s="x" * 40_000)
    assert params == {"list": None, "map": None}
    assert len(engine.summary.expression_errors) == 2
    engine = _engine(tmp_path, f"        - {{do: note, list: [{items}]}}\n")
    assert _run(engine, s="x" * 10) == {"list": ["x" * 10] * 20}


def test_the_parameters_of_one_action_together_are_bounded(tmp_path: Path) -> None:
    names = "abcdefghijkl"  # twelve parameters of 90,000 characters each
    engine = _engine(tmp_path, "        - {do: note, " + ", ".join(f"{n}: '{{{{ s }}}}'" for n in names) + ", z: small}\n")
    params = _run(engine, s="x" * 90_000)
    # a..k fit (990,000 of MAX_ACTION_SIZE); l would pass it; z still fits.
    assert params == {**{n: "x" * 90_000 for n in names[:-1]}, "l": None, "z": "small"}
    (where,) = engine.summary.expression_errors
    assert where == "amp: sig on_match[0].l"
    assert "the action's parameters together" in engine.summary.expression_errors[where].samples[0][1]


def test_several_long_parameters_each_under_the_limit_are_kept(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "        - {do: note, a: '{{ s }}', b: '{{ s }}'}\n")
    assert _run(engine, s="y" * 60_000) == {"a": "y" * 60_000, "b": "y" * 60_000}
    assert engine.summary.expression_errors == {}


def test_a_cli_run_reports_the_capped_parameter(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import main

    parts = " ".join(["{{ local(at, '%c' * 50000) }}"] * 200)
    path = tmp_path / "p.yaml"
    path.write_text(
        "playbook: amp\nversion: 1\nrules:\n  - id: sig\n    when: {type: ping}\n"
        f"    actions:\n      on_match: [{{do: note, message: \"{parts}\"}}]\n"
    )
    log = tmp_path / "e.jsonl"
    log.write_text(json.dumps({"type": "ping", "time": AT, "account": "a"}) + "\n")
    result = CliRunner().invoke(main, ["run", str(path), "--events", str(log)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["params"] == {"message": None}
    assert "expression errors in amp: sig on_match[0].message: 1" in result.stderr


# --- other amplifications ----------------------------------------------------------------------------


def test_list_literal_items_past_the_limit_are_never_computed() -> None:
    items = ", ".join(f"s + '{i}'" for i in range(500))  # each item a new 60,001-character string
    e = compile_expression(f"len([{items}])")
    sc = Scope({}, {"s": "x" * 60_000}, UTC)
    with pytest.raises(EvalError, match="limit"):
        e.evaluate(sc)
    assert peak_bytes(lambda: e.evaluate(sc)) < 2_000_000  # not 30 MB


def test_case_mapping_cannot_grow_a_text_past_the_limit() -> None:
    e = compile_expression("upper(s)")
    with pytest.raises(EvalError, match=r"upper\(\)'s result would be longer than the limit"):
        e.evaluate(Scope({}, {"s": "ß" * 60_000}, UTC))
    with pytest.raises(EvalError, match="limit"):
        compile_expression("lower(s)").evaluate(Scope({}, {"s": "İ" * 60_000}, UTC))
    # A long field that does not grow is not refused (it was not built by the expression).
    assert len(e.evaluate(Scope({}, {"s": "a" * 200_000}, UTC))) == 200_000
    assert e.evaluate(Scope({}, {"s": "ß" * 10}, UTC)) == "SS" * 10


def test_compiled_expressions_keep_no_large_constants() -> None:
    # Compiled expressions are cached: a short text must not keep 100,000 characters.
    tracemalloc.start()
    try:
        kept = [compile_expression(f"x == 'a' * {99_000 + i}") for i in range(50)]
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 2_000_000  # not 50 x 99,000 characters
    assert kept[0].evaluate(Scope({}, {"x": "a" * 99_000}, UTC)) is True
    assert compile_expression("'ab' * 3").evaluate(Scope({}, None, UTC)) == "ababab"


def test_a_template_of_many_large_constant_parts_is_refused_cheaply() -> None:
    text = "".join("{{ 'a' * " + str(99_000 + i) + " }}" for i in range(200))
    with pytest.raises(ExprError, match="fixed text"):
        compile_template(text)
    assert peak_bytes(lambda: pytest.raises(ExprError, compile_template, text + " ")) < 2_000_000
    # A constant part that is over the limit on its own, or a whole constant template.
    with pytest.raises(ExprError, match="fixed text"):
        compile_template("x {{ local(0, '%c' * 5000) }}")
    with pytest.raises(ExprError, match="fixed text"):
        compile_template("{{ 'a' * 100001 }}")
    assert compile_template("{{ 'a' * 100000 }}").render(Scope({}, None, UTC)) == "a" * MAX_SIZE


def test_str_of_a_long_string_field_is_that_field() -> None:
    # Not an amplification: the text is not made longer, so it is not refused.
    body = "x" * 200_000
    assert compile_expression("len(str(body)) > 0").evaluate(Scope({}, {"body": body}, UTC)) is True
