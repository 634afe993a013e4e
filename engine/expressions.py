"""Expressions and templates (playbook language, section 5).

A safe, Python-like expression language. Text is parsed with ``ast.parse`` and
then walked against a strict whitelist of node types; every node is compiled
once into a Python closure. No user text is ever given to ``eval``/``exec``.

Evaluation is on the per-event hot path, so everything that can be decided at
compile time is: how each name is looked up, constant sub-expressions (folded),
pre-compiled literal regexes, and fast paths for comparisons with a constant.

Semantics in short (the contract is the spec): a missing field is ``None``
(null); ordering comparisons are true only between two numbers or two strings;
booleans are not numbers; ``in`` is false for containers that are not lists,
strings or objects; arithmetic never mixes types. Run-time failures raise
:class:`EvalError` and nothing else; compile-time problems raise
:class:`ExprError` with a 0-based offset into the source text.
"""

from __future__ import annotations

import ast
import difflib
import functools
import json
import math
import operator
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

import re2

from .errors import EngineError
from .timecalc import (
    DurationError,
    TimeError,
    format_local,
    parse_duration,
    parse_time,
    seconds_value,
)
from .timecalc import format_duration as _timecalc_format_duration

__all__ = [
    "PATTERN_NAMES",
    "TEMPLATE_NAMES",
    "FUNCTION_NAMES",
    "ExprError",
    "EvalError",
    "Scope",
    "Expression",
    "Template",
    "compile_expression",
    "simple_function",
    "compile_template",
    "render_text",
    "value_weight",
    "too_big",
    "MAX_SIZE",
    "MAX_PATTERN",
    "equals",
    "truthy",
]

PATTERN_NAMES: frozenset[str] = frozenset({"event", "trigger", "facts", "key", "prev"})  # prev.facts: before this event
TEMPLATE_NAMES: frozenset[str] = PATTERN_NAMES | {
    "subject",
    "rule",
    "playbook",
    "outcome",
    "at",
    "deadline",
    "reason",
    "elapsed",
    "late_by",
    "periods_missed",
}

#: Longest expression text accepted (one ``{{ }}`` part of a template counts alone).
MAX_LENGTH = 10_000
#: Deepest nesting of syntax nodes; keeps compile and evaluation recursion bounded.
MAX_DEPTH = 100
#: Largest weight (see :func:`_weight`) a repetition or a ``+`` of strings or lists
#: may build, and longest string ``matches`` scans. Also the largest value a template,
#: ``str()``, ``local()`` or a list or object built by an expression may give: a longer
#: string (or a list or object weighing more) is an :class:`EvalError`, found before it
#: is built whole.
MAX_SIZE = 100_000
#: All the rendered parameters of one action together: ten values of the full size, so
#: no action can hold more than a few megabytes however many parameters it has.
MAX_ACTION_SIZE = 10 * MAX_SIZE
# Largest total weight of the values one expression keeps folded at compile time.
_FOLD_BUDGET = 10_000
#: Largest magnitude an arithmetic result (or a number literal) may have.
MAX_NUMBER = 1e300

_NUM = (int, float)
_SEQ = (list, tuple)
_LITERAL_NAMES: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}
# Leading characters the tokenizer would reject as an indent; a YAML block
# scalar or `{{ x }}` naturally starts with some.
_LEADING_WS = " \t\r\n\f"
_NEWLINE = re.compile(r"\r\n|\r|\n")


# --- errors and scope -------------------------------------------------------------


class ExprError(EngineError):
    """An expression or template cannot be compiled.

    ``offset`` is the 0-based character offset into the text that was compiled
    (for a template: into the whole template string).
    """

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return self.message


class EvalError(EngineError):
    """An expression failed at run time (a bound exceeded, a type mismatch, ...)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Scope:
    """What an expression reads when it runs.

    ``vars`` holds the reserved names (``event``, ``facts``, ...); ``bare`` is
    the mapping a non-reserved bare name is looked up in (usually the current
    event), or ``None``; ``tz`` is the zone ``local()`` renders in. Mutable on
    purpose so a caller can reuse one instance per event.
    """

    __slots__ = ("vars", "bare", "tz")

    def __init__(self, vars: dict[str, Any], bare: Mapping[str, Any] | None = None, tz: tzinfo = UTC):
        self.vars = vars
        self.bare = bare
        self.tz = tz

    def __repr__(self) -> str:
        return f"Scope(vars={self.vars!r}, bare={self.bare!r}, tz={self.tz!r})"


Fn = Callable[[Scope], Any]
_FOLD_SCOPE = Scope({}, None, UTC)


# --- values -----------------------------------------------------------------------


def truthy(value: Any) -> bool:
    """Python truthiness: ``None``, ``False``, ``0``, ``""``, ``[]`` and ``{}`` are false."""
    return bool(value)


def _isnum(v: Any) -> bool:
    return isinstance(v, _NUM) and type(v) is not bool


def equals(a: Any, b: Any) -> bool:
    """The language's ``==``: no bool/number mixing, ``1 == 1.0``, deep on lists and objects."""
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is bool and type(b) is bool and a == b
    if isinstance(a, _NUM):
        return isinstance(b, _NUM) and a == b
    if isinstance(a, _SEQ):
        return isinstance(b, _SEQ) and len(a) == len(b) and all(equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping) or len(a) != len(b):
            return False
        return all(k in b and equals(v, b[k]) for k, v in a.items())
    if isinstance(a, (set, frozenset)):
        # Sets only come from host data (a `set` fact); compare them as the
        # sorted lists they render as.
        return isinstance(b, (set, frozenset)) and len(a) == len(b) and all(_in(x, b) for x in a)
    try:
        return bool(a == b)
    except Exception:
        return False


def _ordered(a: Any, b: Any) -> bool:
    """Whether ``a < b`` is meaningful: two numbers (not booleans) or two strings."""
    if isinstance(a, str):
        return isinstance(b, str)
    return isinstance(a, _NUM) and isinstance(b, _NUM) and type(a) is not bool and type(b) is not bool


def _in(x: Any, y: Any) -> bool:
    """``x in y``: list membership by :func:`equals`, substring, or object key."""
    if isinstance(y, _SEQ):
        if isinstance(x, str) or x is None:
            return x in y  # Python's == agrees with equals() for these
        return any(equals(x, e) for e in y)
    if isinstance(y, str):
        return isinstance(x, str) and x in y
    if isinstance(y, Mapping):
        if isinstance(x, str) or x is None:
            return x in y
        if isinstance(x, bool):
            return any(k is x for k in y)
        if isinstance(x, _NUM):
            return any(equals(x, k) for k in y)
        return False  # lists and objects are never keys
    if isinstance(y, (set, frozenset)):
        return any(equals(x, e) for e in y)
    return False


def _describe(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, _NUM):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple, set, frozenset)):
        return "a list"
    if isinstance(v, Mapping):
        return "an object"
    return f"a {type(v).__name__}"


def _short(v: Any) -> str:
    """A value quoted for an error message, cut so a huge field cannot flood a report."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _float_text(v: float) -> str:
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))  # 2.0 -> "2": the shortest form a user expects
    return repr(v)


def _json_default(o: Any) -> Any:
    if isinstance(o, (set, frozenset)):
        try:
            return sorted(o)
        except TypeError:  # mixed types: still deterministic
            return sorted(o, key=lambda e: (type(e).__name__, render_text(e)))
    if isinstance(o, Mapping):
        return dict(o)
    return str(o)


def render_text(value: Any) -> str:
    """How a value reads inside a longer template string."""
    t = type(value)
    if t is str:
        return value
    if value is None:
        return ""
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is float:
        return _float_text(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float_text(float(value))
    if isinstance(value, (list, tuple, dict, set, frozenset, Mapping)):
        if isinstance(value, (set, frozenset, Mapping)) and not isinstance(value, dict):
            value = _json_default(value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return str(value)


def _clone(v: Any) -> Any:
    """A fresh copy of a constant container, so a caller mutating a result cannot
    change what the next evaluation returns."""
    if isinstance(v, list):
        return [_clone(e) for e in v]
    if isinstance(v, dict):
        return {k: _clone(e) for k, e in v.items()}
    return v


# --- lookups ----------------------------------------------------------------------


def _step(v: Any, k: str | int) -> Any:
    """One constant path step (``.name``, ``["name"]``, ``[0]``); ``None`` when absent."""
    if v is None:  # the common miss: skip the (slower) ABC checks below
        return None
    if isinstance(v, Mapping):
        return v.get(k)
    if type(k) is int and isinstance(v, (list, tuple, str)):
        try:
            return v[k]
        except IndexError:
            return None
    return None


def _index(v: Any, k: Any) -> Any:
    """A dynamic subscript ``v[k]``; anything that does not apply is ``None``."""
    if v is None:
        return None
    if isinstance(v, Mapping):
        try:
            return v.get(k)
        except TypeError:  # unhashable key
            return None
    if isinstance(k, int) and type(k) is not bool and isinstance(v, (list, tuple, str)):
        try:
            return v[k]
        except IndexError:
            return None
    return None


# --- arithmetic -------------------------------------------------------------------


def _num_result(r: Any) -> Any:
    # The chained comparison is also false for NaN, so one test covers both bounds.
    if -MAX_NUMBER <= r <= MAX_NUMBER:
        return r
    if r != r:  # NaN, only from NaN or infinite inputs
        raise EvalError("arithmetic result is not a number (NaN)")
    raise EvalError("arithmetic result is too large (over 1e300)")


def _weight(v: Any, limit: int = MAX_SIZE) -> int:
    """How much a value weighs: a string its length (at least 1), a list or object
    1 plus its items' (an object's keys and values) weights, anything else 1.

    Stops early: once the total exceeds ``limit`` the (partial) total is returned,
    so weighing a huge or deeply shared structure costs at most ~``limit`` steps.
    """
    total = 0
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            total += len(x) or 1
        elif isinstance(x, (list, tuple, set, frozenset)):
            total += 1
            if total + len(x) > limit:  # every item weighs at least 1
                return total + len(x)
            stack.extend(x)
        elif isinstance(x, Mapping):
            total += 1
            if total + 2 * len(x) > limit:
                return total + 2 * len(x)
            stack.extend(x.keys())
            stack.extend(x.values())
        else:
            total += 1
        if total > limit:
            return total
    return total


def _size(v: Any) -> int:
    """The size a repetition or ``+`` result is bounded by: a string's length, or the
    total weight of a list's items (``[null] * 100000`` has size 100000)."""
    if isinstance(v, str):
        return len(v)
    return _weight(v, MAX_SIZE + 1) - 1


def value_weight(v: Any, limit: int = MAX_SIZE) -> int:
    """The weight of a value (see :func:`_weight`), counted no further than just past ``limit``."""
    return _weight(v, limit)


def too_big(what: str) -> EvalError:
    """The error for a value over ``MAX_SIZE`` (for the renderers of action parameters)."""
    return _too_big(what)


def _too_big(what: str) -> EvalError:
    return _LimitError(f"{what} would build a value larger than the limit ({MAX_SIZE} characters or items)")


class _LimitError(EvalError):
    """A value over ``MAX_SIZE`` (so a constant one can be refused when compiling)."""


def _too_long(what: str) -> EvalError:
    return _LimitError(f"{what} would be longer than the limit ({MAX_SIZE} characters)")


def _capped_text(value: Any) -> str:
    """:func:`render_text`, refused (EvalError) when rendering would make a text longer
    than ``MAX_SIZE`` (a string is returned as it is). A list or object is weighed first (bounded work): its JSON text is at
    least about as long as its weight, so one too heavy is refused without rendering."""
    if type(value) is str:
        return value  # not made longer: a long field stays itself (a template counts its length)
    if isinstance(value, (list, tuple, dict, set, frozenset, Mapping)) and _weight(value, MAX_SIZE + 2) > MAX_SIZE + 1:
        raise _too_long("the text of this value")
    text = render_text(value)
    if len(text) > MAX_SIZE and not isinstance(value, str):
        raise _too_long("the text of this value")
    return text


def _check_value(value: Any) -> Any:
    """A result that leaves an expression as a value (a whole template): a string longer
    than ``MAX_SIZE``, or a list or object weighing more, is refused."""
    if type(value) is str:
        if len(value) > MAX_SIZE:
            raise _too_long("the value")
    elif isinstance(value, (list, tuple, dict, set, frozenset, Mapping)) and _weight(value, MAX_SIZE) > MAX_SIZE:
        raise _too_big("the value")
    return value


def _mismatch(sym: str, need: str, a: Any, b: Any) -> EvalError:
    return EvalError(f"'{sym}' needs {need}, not {_describe(a)} and {_describe(b)}")


def _add(a: Any, b: Any) -> Any:
    ta = type(a)
    tb = type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _num_result(a + b)
    if ta is str and tb is str:
        if len(a) + len(b) > MAX_SIZE:
            raise _too_big("'+'")
        return a + b
    if _isnum(a) and _isnum(b):
        return _num_result(a + b)
    if isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_SIZE:
            raise _too_big("'+'")
        return str(a) + str(b)
    if isinstance(a, _SEQ) and isinstance(b, _SEQ):
        if _size(a) + _size(b) > MAX_SIZE:
            raise _too_big("'+'")
        return list(a) + list(b)
    raise _mismatch("+", "two numbers, two strings or two lists", a, b)


def _concat(a: Any, b: Any) -> str:
    """``a ~ b`` (source mappings): both as text (null as ''), joined."""
    ta, tb = render_text(a), render_text(b)
    if len(ta) + len(tb) > MAX_SIZE:
        raise _too_long("the result of '~'")
    return ta + tb


def _sub(a: Any, b: Any) -> Any:
    if _isnum(a) and _isnum(b):
        return _num_result(a - b)
    raise _mismatch("-", "two numbers", a, b)


def _repeat(seq: Any, n: Any) -> Any:
    # Bounded by the total weight of the result, not just its length: nested
    # repetitions ([[1] * 1000] * 1000) share items but still cost time and memory
    # in every later ==, str(), len(str()), ...
    size = _size(seq)
    if n <= 0 or size == 0:
        return "" if isinstance(seq, str) else []
    if size * n > MAX_SIZE:
        raise _too_big("repetition")
    return seq * n if isinstance(seq, str) else list(seq) * n


def _mul(a: Any, b: Any) -> Any:
    if _isnum(a) and _isnum(b):
        try:
            return _num_result(a * b)
        except OverflowError:
            raise EvalError("arithmetic result is too large (over 1e300)") from None
    if isinstance(a, (str, list, tuple)) and isinstance(b, int) and type(b) is not bool:
        return _repeat(a, b)
    if isinstance(b, (str, list, tuple)) and isinstance(a, int) and type(a) is not bool:
        return _repeat(b, a)
    raise _mismatch("*", "two numbers, or a string or list and an integer", a, b)


def _div(a: Any, b: Any) -> Any:
    if _isnum(a) and _isnum(b):
        if b == 0:
            raise EvalError("division by zero")
        try:
            return _num_result(a / b)
        except OverflowError:
            raise EvalError("arithmetic result is too large (over 1e300)") from None
    raise _mismatch("/", "two numbers", a, b)


def _mod(a: Any, b: Any) -> Any:
    if _isnum(a) and _isnum(b):
        if b == 0:
            raise EvalError("modulo by zero")
        try:
            return _num_result(a % b)
        except OverflowError:
            raise EvalError("arithmetic result is too large (over 1e300)") from None
    raise _mismatch("%", "two numbers", a, b)


def _neg(v: Any) -> Any:
    if _isnum(v):
        return -v
    raise EvalError(f"unary '-' needs a number, not {_describe(v)}")


def _pos(v: Any) -> Any:
    if _isnum(v):
        return +v
    raise EvalError(f"unary '+' needs a number, not {_describe(v)}")


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _add,
    ast.Sub: _sub,
    ast.Mult: _mul,
    ast.Div: _div,
    ast.Mod: _mod,
}
_FORBIDDEN_BINOPS: dict[type[ast.operator], str] = {
    ast.Pow: "'**' is not allowed (powers are unbounded work)",
    ast.FloorDiv: "'//' is not allowed; use int(a / b) or round(a / b)",
    ast.MatMult: "'@' is not allowed",
    ast.LShift: "'<<' is not allowed",
    ast.RShift: "'>>' is not allowed",
    ast.BitOr: "'|' is not allowed; use 'or'",
    ast.BitXor: "'^' is not allowed",
    ast.BitAnd: "'&' is not allowed; use 'and'",
}


# --- comparisons ------------------------------------------------------------------


def _op_eq(a: Any, b: Any) -> bool:
    return equals(a, b)


def _op_ne(a: Any, b: Any) -> bool:
    return not equals(a, b)


def _op_lt(a: Any, b: Any) -> bool:
    return _ordered(a, b) and a < b


def _op_le(a: Any, b: Any) -> bool:
    return _ordered(a, b) and a <= b


def _op_gt(a: Any, b: Any) -> bool:
    return _ordered(a, b) and a > b


def _op_ge(a: Any, b: Any) -> bool:
    return _ordered(a, b) and a >= b


def _op_in(a: Any, b: Any) -> bool:
    return _in(a, b)


def _op_not_in(a: Any, b: Any) -> bool:
    return not _in(a, b)


_CMP_OPS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: _op_eq,
    ast.NotEq: _op_ne,
    ast.Lt: _op_lt,
    ast.LtE: _op_le,
    ast.Gt: _op_gt,
    ast.GtE: _op_ge,
    ast.In: _op_in,
    ast.NotIn: _op_not_in,
}
_ORDER_PY: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
# `c < x` is `x > c`: lets a constant on the left use the same fast path.
_FLIPPED: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}


# --- functions --------------------------------------------------------------------


def _len(x: Any) -> int:
    if isinstance(x, (str, list, tuple, dict, set, frozenset, Mapping)):
        return len(x)
    raise EvalError(f"len() needs a string, list or object, not {_describe(x)}")


def _grown(x: str, r: str, name: str) -> str:
    # Case mapping can make a text longer ('İ' -> 'i̇', 'ß' -> 'SS'): not past the limit.
    if len(r) > MAX_SIZE and len(r) > len(x):
        raise _too_long(f"{name}()'s result")
    return r


def _lower(x: Any) -> Any:
    if isinstance(x, str):
        return _grown(x, x.lower(), "lower")
    if x is None:
        return None
    raise EvalError(f"lower() needs a string, not {_describe(x)}")


def _upper(x: Any) -> Any:
    if isinstance(x, str):
        return _grown(x, x.upper(), "upper")
    if x is None:
        return None
    raise EvalError(f"upper() needs a string, not {_describe(x)}")


def _startswith(s: Any, prefix: Any) -> bool:
    return isinstance(s, str) and isinstance(prefix, str) and s.startswith(prefix)


def _endswith(s: Any, suffix: Any) -> bool:
    return isinstance(s, str) and isinstance(suffix, str) and s.endswith(suffix)


# matches() runs RE2 (linear time: no catastrophic backtracking on '^(a+)+$'). Linear in
# the text, but times the size of the compiled program: '[a-z]{1000}' * 90 (990
# characters) took 45 s on 100,000 characters. So a pattern is bounded in length and
# RE2's memory (its program and its DFA cache) in bytes: such a pattern is refused.
#: Longest regular expression ``matches`` accepts (characters).
MAX_PATTERN = 4_000
#: RE2's memory budget per compiled pattern (bytes): a few thousand instructions.
RE2_MAX_MEM = 256 << 10
# Patterns that come from events are compiled once per text, in a bounded LRU cache
# (failures too, so a bad pattern repeated in every event is not recompiled).
_REGEX_CACHE: OrderedDict[str, Any] = OrderedDict()
_REGEX_CACHE_MAX = 128
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are reported by us, not printed to stderr
_RE2_OPTIONS.max_mem = RE2_MAX_MEM


_SURROGATE = re.compile("[\ud800-\udfff]")


class _RegexError(ValueError):
    """A regex that cannot be compiled; the message is ready for a user."""


def _utf8_safe(s: str) -> str:
    """``s`` with unpaired surrogates (legal in JSON data, not in UTF-8) as U+FFFD:
    RE2 works on UTF-8. Only called after a UnicodeEncodeError, so rarely."""
    return _SURROGATE.sub("\ufffd", s)


def _compile_regex(rx: str) -> Any:
    """Compile a regex with RE2; raises :class:`_RegexError`.

    A pattern Python's ``re`` also refuses is invalid; one only RE2 refuses uses
    syntax RE2 does not support (backreferences, lookaround, ...).
    """
    if len(rx) > MAX_PATTERN:
        raise _RegexError(
            f"matches(): the regular expression is {len(rx)} characters long; the limit is {MAX_PATTERN}"
        )
    try:
        try:
            return re2.compile(rx, _RE2_OPTIONS)
        except UnicodeEncodeError:
            return re2.compile(_utf8_safe(rx), _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
    if "too large" in reason:
        raise _RegexError(
            f"matches(): the regular expression {_short(rx)} is too large once compiled (over RE2's "
            f"{RE2_MAX_MEM // 1024} KiB budget); use fewer or smaller repetitions such as {{1000}}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # re's FutureWarnings must not become errors under -W error
            re.compile(rx)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise _RegexError(f"matches(): invalid regular expression {_short(rx)}: {exc}") from None
    raise _RegexError(
        "matches(): this regular expression is not supported (RE2 syntax: no backreferences or lookaround): "
        f"{_short(rx)} ({reason})"
    )


def _dynamic_regex(rx: Any) -> Any:
    if not isinstance(rx, str):
        raise EvalError(f"matches() needs a regular expression string, not {_describe(rx)}")
    cache = _REGEX_CACHE
    pat = cache.get(rx)
    if pat is None:
        if len(rx) > MAX_PATTERN:  # not worth a place in the cache
            raise EvalError(
                f"matches(): the regular expression is {len(rx)} characters long; the limit is {MAX_PATTERN}"
            )
        try:
            pat = _compile_regex(rx)
        except _RegexError as exc:
            pat = EvalError(str(exc))
        if len(cache) >= _REGEX_CACHE_MAX:
            cache.popitem(last=False)  # the least recently used
        cache[rx] = pat
    else:
        cache.move_to_end(rx)
    if isinstance(pat, EvalError):
        raise EvalError(pat.message)
    return pat


def _search(pat: Any, s: Any) -> bool:
    if not isinstance(s, str):
        return False
    if len(s) > MAX_SIZE:
        raise EvalError(f"matches(): the text is longer than {MAX_SIZE} characters")
    try:
        if pat.search(s) is not None:
            return True
    except UnicodeEncodeError:
        s = _utf8_safe(s)
        if pat.search(s) is not None:
            return True
    # Python's '$' also matches before a final newline; RE2's only at the very end.
    return s.endswith("\n") and "$" in pat.pattern and pat.search(s[:-1]) is not None


def _matches(s: Any, rx: Any) -> bool:
    if not isinstance(s, str):
        return False
    return _search(_dynamic_regex(rx), s)


def _round(x: Any, *ndigits: Any) -> Any:
    if not _isnum(x):
        raise EvalError(f"round() needs a number, not {_describe(x)}")
    try:
        if not ndigits:
            return round(x)
        nd = ndigits[0]
        if not isinstance(nd, int) or type(nd) is bool:
            raise EvalError(f"round(): the number of digits must be an integer, not {_describe(nd)}")
        if not -300 <= nd <= 300:
            raise EvalError("round(): the number of digits must be between -300 and 300")
        return round(x, nd)
    except (OverflowError, ValueError):
        raise EvalError(f"round() cannot round {_short(x)}") from None


def _abs(x: Any) -> Any:
    if _isnum(x):
        return abs(x)
    raise EvalError(f"abs() needs a number, not {_describe(x)}")


def _extreme(name: str, pick: Callable[[list[Any]], Any], values: tuple[Any, ...]) -> Any:
    if len(values) == 1:
        only = values[0]
        if only is None:
            return None
        if isinstance(only, (list, tuple, set, frozenset)):
            items = list(only)
        elif _isnum(only) or isinstance(only, str):
            return only
        else:
            raise EvalError(f"{name}() needs a list, or several numbers or strings, not {_describe(only)}")
    else:
        items = list(values)
    if not items:
        return None
    if all(isinstance(i, str) for i in items) or all(_isnum(i) for i in items):
        return pick(items)
    kinds = sorted({_describe(i) for i in items})
    raise EvalError(f"{name}() needs only numbers or only strings, got {', '.join(kinds)}")


def _min(*values: Any) -> Any:
    return _extreme("min", min, values)


def _max(*values: Any) -> Any:
    return _extreme("max", max, values)


def _to_int(x: Any) -> int:
    if isinstance(x, int) and type(x) is not bool:
        return int(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            raise EvalError(f"int() cannot convert {x!r}")
        return int(x)
    if isinstance(x, str):
        text = x.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            f = float(text)
        except ValueError:
            raise EvalError(f"int() cannot convert {_short(x)} to a number") from None
        if not math.isfinite(f):
            raise EvalError(f"int() cannot convert {_short(x)} to a number")
        return int(f)
    raise EvalError(f"int() needs a number or a numeric string, not {_describe(x)}")


def _to_float(x: Any) -> float:
    if isinstance(x, str):
        try:
            f = float(x.strip())
        except ValueError:
            raise EvalError(f"float() cannot convert {_short(x)} to a number") from None
        if not math.isfinite(f):
            raise EvalError(f"float() cannot convert {_short(x)} to a finite number")
        return f
    if _isnum(x):
        try:
            return float(x)
        except OverflowError:
            raise EvalError("float(): the number is too large") from None
    raise EvalError(f"float() needs a number or a numeric string, not {_describe(x)}")


def _duration(x: Any) -> int | float:
    try:
        return seconds_value(parse_duration(x).exact_us)
    except DurationError as exc:
        raise EvalError(str(exc)) from None
    except (ValueError, OverflowError):  # e.g. a number of weeks too large for a float
        raise EvalError(f"invalid duration {_short(x)}") from None


def _format_duration(x: Any) -> str:
    if not _isnum(x):
        raise EvalError(f"format_duration() needs a number of seconds, not {_describe(x)}")
    try:
        return _timecalc_format_duration(x)
    except (TypeError, ValueError, OverflowError):
        raise EvalError(f"format_duration() cannot format {_short(x)}") from None


def _local(tz: tzinfo, value: Any, fmt: Any = None) -> str:
    try:
        us = parse_time(value, tz)
    except TimeError as exc:
        raise EvalError(f"local(): {exc}") from None
    if fmt is not None and not isinstance(fmt, str):
        raise EvalError(f"local(): the format must be a string, not {_describe(fmt)}")
    try:
        if fmt is None or len(fmt) <= _STRFTIME_CHUNK:
            text = format_local(us, tz, fmt)
        else:
            text = _strftime_bounded(us, tz, fmt)
    except (ValueError, OverflowError, OSError) as exc:
        raise EvalError(f"local() cannot render {_short(value)}: {exc}") from None
    if len(text) > MAX_SIZE:
        raise _too_long("local()'s result")
    return text


# One strftime directive (flags, width, E/O modifier, conversion) or a run of plain text.
_STRFTIME_TOKEN = re.compile(r"%[-_0^#]*[0-9]*[EO]?.?|[^%]+", re.DOTALL)
_STRFTIME_CHUNK = 64


def _strftime_bounded(us: int, tz: tzinfo, fmt: str) -> str:
    """``strftime`` of a long format, a few directives at a time, refused as soon as the
    result passes ``MAX_SIZE``: ``'%c' * 50000`` (24 characters per directive) is never
    built whole. Directives are independent, so the pieces join to the same text."""
    out: list[str] = []
    total = 0
    chunk: list[str] = []
    size = 0
    for m in _STRFTIME_TOKEN.finditer(fmt):
        token = m.group()
        chunk.append(token)
        size += len(token)
        if size < _STRFTIME_CHUNK and m.end() < len(fmt):
            continue
        piece = format_local(us, tz, "".join(chunk))
        total += len(piece)
        if total > MAX_SIZE:
            raise _too_long("local()'s result")
        out.append(piece)
        chunk = []
        size = 0
    return "".join(out)


# --- compiled nodes ---------------------------------------------------------------


class _C:
    """A compiled node: its closure, whether its value is known at compile time,
    and (for names and constant paths) the path, so steps can merge into one closure."""

    __slots__ = ("fn", "const", "value", "path")

    def __init__(self, fn: Fn, const: bool = False, value: Any = None, path: tuple[Any, ...] | None = None):
        self.fn = fn
        self.const = const
        self.value = value
        self.path = path


def _const(v: Any) -> _C:
    if isinstance(v, (list, dict)):
        flat = not any(isinstance(e, (list, dict)) for e in (v.values() if isinstance(v, dict) else v))
        if flat:
            copy = v.copy

            def fn(s: Scope) -> Any:
                return copy()

        else:

            def fn(s: Scope) -> Any:
                return _clone(v)

        return _C(fn, True, v)

    def fn2(s: Scope) -> Any:
        return v

    return _C(fn2, True, v)


def _path_fn(kind: str, name: str, keys: tuple[str | int, ...]) -> Fn:
    """One closure for ``name.k1.k2...``: the hottest shape in playbooks."""
    if kind == "var":
        if not keys:

            def f(s: Scope) -> Any:
                return s.vars.get(name)

        elif len(keys) == 1:
            (k,) = keys

            def f(s: Scope) -> Any:
                v = s.vars.get(name)
                return v.get(k) if type(v) is dict else _step(v, k)

        else:

            def f(s: Scope) -> Any:
                v = s.vars.get(name)
                for k in keys:
                    v = v.get(k) if type(v) is dict else _step(v, k)
                return v

        return f
    if not keys:

        def g(s: Scope) -> Any:
            b = s.bare
            return None if b is None else b.get(name)

    elif len(keys) == 1:
        (k1,) = keys

        def g(s: Scope) -> Any:
            b = s.bare
            if b is None:
                return None
            v = b.get(name)
            return v.get(k1) if type(v) is dict else _step(v, k1)

    else:

        def g(s: Scope) -> Any:
            b = s.bare
            if b is None:
                return None
            v = b.get(name)
            for k in keys:
                v = v.get(k) if type(v) is dict else _step(v, k)
            return v

    return g


_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed; use '+' or a template with {{ }}",
    ast.FormattedValue: "f-strings are not allowed; use '+' or a template with {{ }}",
    ast.NamedExpr: "':=' is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
    ast.Set: "sets are not allowed; use a list [...]",
    ast.Tuple: "tuples are not allowed; use a list [...]",
}

Builder = Callable[["_Compiler", ast.Call, list[_C]], _C]


class _Compiler:
    """Walks one parsed expression; collects the names and facts it reads."""

    def __init__(self, text: str, src: str, delta: int, reserved: frozenset[str]):
        self.text = text
        self.functions: Mapping[str, tuple[int, int | None, Builder]] = _FUNCTIONS
        self.tildes: frozenset[int] = frozenset()  # offsets of the '~' (concatenation) read as '+'
        self.delta = delta  # char offset in `src` + delta = offset in `text`
        self.lines: list[str] = []
        self.starts: list[int] = []
        pos = 0
        for m in _NEWLINE.finditer(src):  # the same line breaks Python's tokenizer counts
            self.starts.append(pos)
            self.lines.append(src[pos : m.start()])
            pos = m.end()
        self.starts.append(pos)
        self.lines.append(src[pos:])
        self.reserved = reserved
        self.names: set[str] = set()
        self.facts: set[str] = set()
        self.facts_refs = 0
        self.facts_keyed = 0
        self.folded = 0  # weight of the constants folded so far

    # -- positions --

    def offset(self, lineno: int | None, col_bytes: int | None) -> int:
        """ast positions are (1-based line, UTF-8 byte column): convert to a char offset."""
        if not lineno or col_bytes is None:
            return max(0, min(self.delta, len(self.text)))
        i = lineno - 1
        if i >= len(self.lines):
            return len(self.text)
        raw = self.lines[i].encode("utf-8", "surrogatepass")
        chars = len(raw[: max(col_bytes, 0)].decode("utf-8", "ignore"))
        return max(0, min(self.starts[i] + chars + self.delta, len(self.text)))

    def err(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(message, self.offset(getattr(node, "lineno", None), getattr(node, "col_offset", None)))

    # -- walking --

    def compile(self, node: ast.AST, depth: int) -> _C:
        if depth > MAX_DEPTH:
            raise self.err(node, f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        method = self._dispatch.get(type(node))
        if method is None:
            message = _FORBIDDEN_NODES.get(type(node)) or f"{type(node).__name__} is not allowed in an expression"
            raise self.err(node, message)
        return method(self, node, depth + 1)

    def fold(self, fn: Fn, parts: list[_C]) -> _C:
        """Evaluate now when every input is constant; a failure stays a run-time error.

        What one expression keeps folded is bounded (``_FOLD_BUDGET``): compiled
        expressions are cached, and a short text such as ``'a' * 100000`` must not keep
        100,000 characters each. Past the budget a constant is computed when evaluated.
        """
        if all(p.const for p in parts):
            try:
                value = fn(_FOLD_SCOPE)
            except Exception:
                return _C(fn)
            self.folded += _weight(value, _FOLD_BUDGET)
            if self.folded > _FOLD_BUDGET:
                return _C(fn)
            return _const(value)
        return _C(fn)

    def _constant(self, node: ast.Constant, depth: int) -> _C:
        v = node.value
        if v is None or isinstance(v, (bool, str)):
            return _const(v)
        if isinstance(v, (int, float)):
            if not (-MAX_NUMBER <= v <= MAX_NUMBER):
                raise self.err(node, "number literal is too large (over 1e300)")
            return _const(v)
        if isinstance(v, bytes):
            raise self.err(node, "bytes literals are not allowed")
        if isinstance(v, complex):
            raise self.err(node, "complex numbers are not allowed")
        raise self.err(node, f"{_short(v)} is not allowed")

    def _name(self, node: ast.Name, depth: int) -> _C:
        name = node.id
        if name in _LITERAL_NAMES:
            return _const(_LITERAL_NAMES[name])
        if name.startswith("__"):
            raise self.err(node, f"names beginning with '__' are not allowed ('{name}')")
        self.names.add(name)
        # ``prev`` is reserved only as ``prev.facts`` (see _extend): alone, or with any other
        # field after it, it stays the event's own field, so playbooks reading a field
        # called ``prev`` mean what they meant before ``prev.facts`` existed.
        kind = "var" if name in self.reserved and name != "prev" else "bare"
        if name == "facts" and kind == "var":
            self.facts_refs += 1
        path = (kind, name, ())
        return _C(_path_fn(kind, name, ()), path=path)

    def _extend(self, base: _C, key: str | int) -> _C:
        """``base.key`` / ``base["key"]`` / ``base[0]`` with a constant key."""
        if base.const:
            return _const(_step(base.value, key))
        if base.path is not None:
            kind, name, keys = base.path
            if kind == "bare" and name == "prev" and not keys and key == "facts" and "prev" in self.reserved:
                kind = "var"  # prev.facts: the key's facts before this event
            if kind == "var" and name == "facts" and not keys and isinstance(key, str):
                self.facts.add(key)
                self.facts_keyed += 1
            elif kind == "var" and name == "prev" and keys == ("facts",) and isinstance(key, str):
                self.facts.add(key)  # prev.facts.x: checked like facts.x
            path = (kind, name, (*keys, key))
            return _C(_path_fn(kind, name, path[2]), path=path)
        bf = base.fn

        def f(s: Scope) -> Any:
            v = bf(s)
            return v.get(key) if type(v) is dict else _step(v, key)

        return _C(f)

    def _attribute(self, node: ast.Attribute, depth: int) -> _C:
        if node.attr.startswith("_"):
            # Point at the attribute name itself, the part the user must change.
            end = getattr(node, "end_col_offset", None)
            col = None if end is None else end - len(node.attr.encode("utf-8", "surrogatepass"))
            where = self.offset(getattr(node, "end_lineno", None), col)
            raise ExprError(f"attribute names beginning with '_' are not allowed ('{node.attr}')", where)
        return self._extend(self.compile(node.value, depth), node.attr)

    def _subscript(self, node: ast.Subscript, depth: int) -> _C:
        base = self.compile(node.value, depth)
        key = self.compile(node.slice, depth)
        if key.const and (type(key.value) is str or type(key.value) is int):
            return self._extend(base, key.value)
        bf, kf = base.fn, key.fn

        def f(s: Scope) -> Any:
            return _index(bf(s), kf(s))

        return self.fold(f, [base, key])

    def _list(self, node: ast.List, depth: int) -> _C:
        items = [self.compile(e, depth) for e in node.elts]
        if all(i.const for i in items):
            return _const([i.value for i in items])
        fns = tuple(i.fn for i in items)
        if len(fns) < 2:

            def one(s: Scope) -> Any:
                return [g(s) for g in fns]

            return _C(one)

        def f(s: Scope) -> Any:
            # Several items may all be one large value ([event, event, ...]): bounded like
            # '*', item by item, so the items past the limit are never computed.
            out = []
            total = 1
            for g in fns:
                v = g(s)
                total += _weight(v, MAX_SIZE)
                if total > MAX_SIZE:
                    raise _too_big("this list")
                out.append(v)
            return out

        return _C(f)

    def _dict(self, node: ast.Dict, depth: int) -> _C:
        pairs: list[tuple[_C, _C]] = []
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                raise self.err(v, "'**' unpacking is not allowed")
            kc = self.compile(k, depth)
            if kc.const and not isinstance(kc.value, str):
                raise self.err(k, "object keys must be strings")
            pairs.append((kc, self.compile(v, depth)))
        if all(k.const and v.const for k, v in pairs):
            return _const({k.value: v.value for k, v in pairs})
        fns = tuple((k.fn, v.fn) for k, v in pairs)

        def f(s: Scope) -> Any:
            out = {}
            for kf, vf in fns:
                key = kf(s)
                if not isinstance(key, str):
                    raise EvalError(f"object keys must be strings, not {_describe(key)}")
                out[key] = vf(s)
            if len(out) > 1 and _weight(out, MAX_SIZE) > MAX_SIZE:
                raise _too_big("this object")  # as for lists: {'a': event, 'b': event, ...}
            return out

        return _C(f)

    def _unaryop(self, node: ast.UnaryOp, depth: int) -> _C:
        op = type(node.op)
        if op is ast.Invert:
            raise self.err(node, "'~' is not allowed")
        operand = self.compile(node.operand, depth)
        of = operand.fn
        if op is ast.Not:

            def f(s: Scope) -> Any:
                return not of(s)

        elif op is ast.USub:

            def f(s: Scope) -> Any:
                return _neg(of(s))

        else:

            def f(s: Scope) -> Any:
                return _pos(of(s))

        return self.fold(f, [operand])

    def _binop(self, node: ast.BinOp, depth: int) -> _C:
        op = type(node.op)
        impl = _BINOPS.get(op)
        if impl is None:
            raise self.err(node, _FORBIDDEN_BINOPS.get(op, f"operator {op.__name__} is not allowed"))
        left = self.compile(node.left, depth)
        right = self.compile(node.right, depth)
        lf, rf = left.fn, right.fn
        if op is ast.Add and self.tildes and self._is_tilde(node):
            impl = _concat

        def f(s: Scope) -> Any:
            return impl(lf(s), rf(s))

        return self.fold(f, [left, right])

    def _is_tilde(self, node: ast.BinOp) -> bool:
        """Is this '+' a '~' of the text (see :func:`_tilde_to_plus`)? The operator stands
        between the end of the left operand and the start of the right one."""
        left, right = node.left, node.right
        start = self.offset(getattr(left, "end_lineno", None), getattr(left, "end_col_offset", None))
        end = self.offset(getattr(right, "lineno", None), getattr(right, "col_offset", None))
        return any(start <= t < end for t in self.tildes)

    def _boolop(self, node: ast.BoolOp, depth: int) -> _C:
        parts = [self.compile(v, depth) for v in node.values]
        fns = tuple(p.fn for p in parts)
        if type(node.op) is ast.And:
            if len(fns) == 2:
                a, b = fns

                def f(s: Scope) -> Any:
                    v = a(s)
                    return b(s) if v else v

            else:

                def f(s: Scope) -> Any:
                    v = None
                    for g in fns:
                        v = g(s)
                        if not v:
                            return v
                    return v

        elif len(fns) == 2:
            a, b = fns

            def f(s: Scope) -> Any:
                v = a(s)
                return v if v else b(s)

        else:

            def f(s: Scope) -> Any:
                v = None
                for g in fns:
                    v = g(s)
                    if v:
                        return v
                return v

        return self.fold(f, parts)

    def _ifexp(self, node: ast.IfExp, depth: int) -> _C:
        test = self.compile(node.test, depth)
        body = self.compile(node.body, depth)
        orelse = self.compile(node.orelse, depth)
        if test.const:
            return body if test.value else orelse
        tf, bf, of = test.fn, body.fn, orelse.fn

        def f(s: Scope) -> Any:
            return bf(s) if tf(s) else of(s)

        return _C(f)

    def _compare(self, node: ast.Compare, depth: int) -> _C:
        for op in node.ops:
            if type(op) in (ast.Is, ast.IsNot):
                raise self.err(node, "'is' is not allowed; use == or !=")
        left = self.compile(node.left, depth)
        rights = [self.compile(c, depth) for c in node.comparators]
        if len(rights) == 1:
            return self.fold(_compare2(type(node.ops[0]), left, rights[0]), [left, rights[0]])
        first = left.fn
        chain = tuple((_CMP_OPS[type(op)], r.fn) for op, r in zip(node.ops, rights, strict=True))

        def f(s: Scope) -> Any:
            a = first(s)
            for op, rf in chain:
                b = rf(s)
                if not op(a, b):
                    return False
                a = b
            return True

        return self.fold(f, [left, *rights])

    def _call(self, node: ast.Call, depth: int) -> _C:
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                hint = f"; write {func.attr}(x) instead of x.{func.attr}()" if func.attr in self.functions else ""
                end = getattr(func, "end_col_offset", None)
                col = None if end is None else end - len(func.attr.encode("utf-8", "surrogatepass"))
                where = self.offset(getattr(func, "end_lineno", None), col)
                raise ExprError(f"method calls are not allowed{hint}", where)
            self.compile(func, depth)  # reports a forbidden callee (a lambda...) as itself
            raise self.err(func, "only functions can be called, by name")
        name = func.id
        spec = self.functions.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, sorted(self.functions), n=1)
            if close:
                raise self.err(func, f"unknown function '{name}' (did you mean '{close[0]}'?)")
            raise self.err(func, f"unknown function '{name}'; the functions are: {', '.join(sorted(self.functions))}")
        if node.keywords:
            kw = node.keywords[0]
            what = "'**' arguments are" if kw.arg is None else "keyword arguments are"
            raise self.err(kw, f"{what} not allowed")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.err(a, "'*' arguments are not allowed")
        lo, hi, build = spec
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            raise self.err(node, f"{name}() takes {_arity(lo, hi)} ({n} given)")
        args = [self.compile(a, depth) for a in node.args]
        return build(self, node, args)

    _dispatch: dict[type[ast.AST], Callable[[_Compiler, Any, int], _C]] = {
        ast.Constant: _constant,
        ast.Name: _name,
        ast.Attribute: _attribute,
        ast.Subscript: _subscript,
        ast.List: _list,
        ast.Dict: _dict,
        ast.UnaryOp: _unaryop,
        ast.BinOp: _binop,
        ast.BoolOp: _boolop,
        ast.IfExp: _ifexp,
        ast.Compare: _compare,
        ast.Call: _call,
    }


def _arity(lo: int, hi: int | None) -> str:
    def plural(n: int) -> str:
        return f"{n} argument" + ("" if n == 1 else "s")

    if hi is None:
        return f"at least {plural(lo)}"
    if lo == hi:
        return plural(lo)
    return f"{lo} or {plural(hi)}" if hi == lo + 1 else f"{lo} to {plural(hi)}"


# -- comparison closures (with fast paths for a constant operand) --


def _compare2(op: type[ast.cmpop], left: _C, right: _C) -> Fn:
    if op is ast.In or op is ast.NotIn:
        return _build_in(left, right, negate=op is ast.NotIn)
    if op is ast.Eq or op is ast.NotEq:
        if left.const and not right.const:
            left, right = right, left
        return _build_eq(left, right, negate=op is ast.NotEq)
    if left.const and not right.const:
        left, right, op = right, left, _FLIPPED[op]
    pyop = _ORDER_PY[op]
    lf = left.fn
    if right.const:
        c = right.value
        if _isnum(c):

            def f(s: Scope) -> Any:
                v = lf(s)
                t = type(v)
                if t is int or t is float:
                    return pyop(v, c)
                return t is not bool and isinstance(v, _NUM) and pyop(v, c)

            return f
        if isinstance(c, str):

            def g(s: Scope) -> Any:
                v = lf(s)
                return isinstance(v, str) and pyop(v, c)

            return g

        def never(s: Scope) -> Any:
            lf(s)  # still evaluated: a run-time error in it must surface as one
            return False

        return never
    rf = right.fn

    def h(s: Scope) -> Any:
        a = lf(s)
        b = rf(s)
        return _ordered(a, b) and pyop(a, b)

    return h


def _build_eq(left: _C, right: _C, negate: bool) -> Fn:
    lf = left.fn
    if right.const:
        c = right.value
        if isinstance(c, str):
            if negate:
                return lambda s: lf(s) != c
            return lambda s: lf(s) == c
        if c is None:
            if negate:
                return lambda s: lf(s) is not None
            return lambda s: lf(s) is None
        if type(c) is bool:
            if negate:
                return lambda s: lf(s) is not c
            return lambda s: lf(s) is c
        if _isnum(c):
            if negate:

                def ne(s: Scope) -> Any:
                    v = lf(s)
                    return v != c or type(v) is bool

                return ne

            def eq(s: Scope) -> Any:
                v = lf(s)
                return v == c and type(v) is not bool

            return eq
    rf = right.fn
    if negate:
        return lambda s: not equals(lf(s), rf(s))
    return lambda s: equals(lf(s), rf(s))


def _build_in(item: _C, cont: _C, negate: bool) -> Fn:
    itf = item.fn
    if cont.const:
        c = cont.value
        if isinstance(c, list) and all(v is None or isinstance(v, (str, int, float)) for v in c):
            strs = frozenset(v for v in c if isinstance(v, str))
            nums = frozenset(v for v in c if _isnum(v))
            bools = frozenset(v for v in c if type(v) is bool)
            has_none = any(v is None for v in c)

            def member(s: Scope) -> bool:
                v = itf(s)
                if isinstance(v, str):
                    return v in strs
                if v is None:
                    return has_none
                if type(v) is bool:
                    return v in bools
                if isinstance(v, _NUM):
                    return v in nums
                return False  # a list or object is never equal to a scalar

            if negate:
                return lambda s: not member(s)
            return member
        if isinstance(c, str):
            if negate:
                return lambda s: not (isinstance(v := itf(s), str) and v in c)
            return lambda s: isinstance(v := itf(s), str) and v in c
        if not isinstance(c, (list, dict)):

            def fixed(s: Scope) -> bool:
                itf(s)
                return negate  # `x in null` is false, `x not in null` true

            return fixed
        if negate:
            return lambda s: not _in(itf(s), c)
        return lambda s: _in(itf(s), c)
    cf = cont.fn
    if negate:
        return lambda s: not _in(itf(s), cf(s))
    return lambda s: _in(itf(s), cf(s))


# -- function builders --


def _simple(impl: Callable[..., Any]) -> Builder:
    def build(comp: _Compiler, node: ast.Call, args: list[_C]) -> _C:
        fns = tuple(a.fn for a in args)
        if len(fns) == 1:
            (a,) = fns

            def f(s: Scope) -> Any:
                return impl(a(s))

        elif len(fns) == 2:
            a, b = fns

            def f(s: Scope) -> Any:
                return impl(a(s), b(s))

        else:

            def f(s: Scope) -> Any:
                return impl(*[g(s) for g in fns])

        return comp.fold(f, args)

    return build


def _build_contains(comp: _Compiler, node: ast.Call, args: list[_C]) -> _C:
    return comp.fold(_build_in(args[1], args[0], negate=False), args)


def _build_matches(comp: _Compiler, node: ast.Call, args: list[_C]) -> _C:
    text, rx = args
    if not rx.const:
        return _simple(_matches)(comp, node, args)
    if not isinstance(rx.value, str):
        raise comp.err(node.args[1], f"matches() needs a regular expression string, not {_describe(rx.value)}")
    try:
        pat = _compile_regex(rx.value)
    except _RegexError as exc:
        raise comp.err(node.args[1], str(exc)) from None
    tf = text.fn

    def f(s: Scope) -> Any:
        return _search(pat, tf(s))

    return comp.fold(f, [text])


def _build_coalesce(comp: _Compiler, node: ast.Call, args: list[_C]) -> _C:
    fns = tuple(a.fn for a in args)
    # Lazy, like `or`: later arguments are not evaluated (nor can fail) once one is set.
    if len(fns) == 1:
        return args[0]
    if len(fns) == 2:
        a, b = fns

        def f(s: Scope) -> Any:
            v = a(s)
            return b(s) if v is None else v

    else:

        def f(s: Scope) -> Any:
            for g in fns:
                v = g(s)
                if v is not None:
                    return v
            return None

    return comp.fold(f, args)


def _build_duration(comp: _Compiler, node: ast.Call, args: list[_C]) -> _C:
    if args[0].const:
        try:
            return _const(_duration(args[0].value))
        except EvalError as exc:
            raise comp.err(node.args[0], exc.message) from None
    return _simple(_duration)(comp, node, args)


def _build_local(comp: _Compiler, node: ast.Call, args: list[_C]) -> _C:
    # Never folded: the result depends on the scope's time zone.
    tf = args[0].fn
    if len(args) == 1:
        return _C(lambda s: _local(s.tz, tf(s)))
    if args[1].const and not isinstance(args[1].value, str):
        raise comp.err(node.args[1], f"local(): the format must be a string, not {_describe(args[1].value)}")
    ff = args[1].fn
    return _C(lambda s: _local(s.tz, tf(s), ff(s)))


_FUNCTIONS: dict[str, tuple[int, int | None, Builder]] = {
    "len": (1, 1, _simple(_len)),
    "lower": (1, 1, _simple(_lower)),
    "upper": (1, 1, _simple(_upper)),
    "startswith": (2, 2, _simple(_startswith)),
    "endswith": (2, 2, _simple(_endswith)),
    "contains": (2, 2, _build_contains),
    "matches": (2, 2, _build_matches),
    "coalesce": (1, None, _build_coalesce),
    "round": (1, 2, _simple(_round)),
    "abs": (1, 1, _simple(_abs)),
    "min": (1, None, _simple(_min)),
    "max": (1, None, _simple(_max)),
    "str": (1, 1, _simple(_capped_text)),
    "int": (1, 1, _simple(_to_int)),
    "float": (1, 1, _simple(_to_float)),
    "duration": (1, 1, _build_duration),
    "format_duration": (1, 1, _simple(_format_duration)),
    "local": (1, 2, _build_local),
}

FUNCTION_NAMES: frozenset[str] = frozenset(_FUNCTIONS)
FunctionSpec = tuple[int, int | None, Builder]


def simple_function(impl: Callable[..., Any]) -> Builder:
    """A function builder for ``compile_expression(functions=...)``: ``impl`` gets the
    arguments' values, raises :class:`EvalError` for bad ones; folded when all are constant."""
    return _simple(impl)


def compile_error(comp: Any, node: ast.AST, message: str) -> ExprError:
    """For a builder: an :class:`ExprError` placed at ``node`` (an argument of the call)."""
    return comp.err(node, message)


def _tilde_to_plus(text: str) -> tuple[str, frozenset[int]]:
    """``a ~ b`` (Jinja's concatenation) for Python's parser: each '~' between two operands
    becomes a '+' of the same length (positions stay right) and its offset is kept, so the
    compiler reads that '+' as concatenation. A '~' before an operand (Python's unary
    invert) stays as it is, and is refused as before. Text the tokenizer refuses is left
    alone: the parser reports its error."""
    import io
    import tokenize

    src = "(" + text + "\n)"  # as _parse wraps a multi-line text: lines join inside brackets
    starts = [0]
    for m in _NEWLINE.finditer(src):
        starts.append(m.end())
    found: list[int] = []
    prev: tokenize.TokenInfo | None = None
    operand_end = {")", "]", "}"}
    words = {"and", "or", "not", "in", "is", "if", "else", "lambda"}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if tok.type == tokenize.OP and tok.string == "~" and prev is not None and (
                    prev.type in (tokenize.NUMBER, tokenize.STRING)
                    or (prev.type == tokenize.NAME and prev.string not in words)
                    or (prev.type == tokenize.OP and prev.string in operand_end)):
                offset = starts[tok.start[0] - 1] + tok.start[1] - 1
                if 0 <= offset < len(text) and text[offset] == "~":
                    found.append(offset)
            prev = tok
    except (tokenize.TokenError, SyntaxError, ValueError):
        return text, frozenset()
    if not found:
        return text, frozenset()
    chars = list(text)
    for i in found:
        chars[i] = "+"
    return "".join(chars), frozenset(found)


# --- public objects ---------------------------------------------------------------


def _wrap(exc: Exception) -> EvalError:
    """Defensive: an exception the closures did not anticipate, as an EvalError."""
    if isinstance(exc, RecursionError):
        return EvalError("the data is nested too deeply to evaluate")
    if isinstance(exc, MemoryError):
        return EvalError("out of memory while evaluating")
    return EvalError(f"cannot evaluate: {type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression. ``evaluate`` raises :class:`EvalError` only.

    ``facts_dynamic`` is True when the expression reads ``facts`` other than by
    a literal name (``facts[x]``, ``len(facts)``...): then ``facts_used`` is not
    the complete list of facts it may read.
    """

    source: str
    facts_used: frozenset[str]
    names_used: frozenset[str]
    is_constant: bool
    facts_dynamic: bool
    _fn: Fn = field(repr=False, compare=False)
    _folded: bool = field(default=False, repr=False, compare=False)  # value known at compile time

    def evaluate(self, scope: Scope) -> Any:
        try:
            return self._fn(scope)
        except EvalError:
            raise
        except Exception as exc:
            raise _wrap(exc) from exc


def _parse(text: str) -> tuple[ast.Expression, _Compiler] | ExprError:
    """Parse, accepting a multi-line text (YAML block scalar) as one expression."""
    body = text.lstrip(_LEADING_WS)
    lead = len(text) - len(body)
    if not body.strip():
        return ExprError("empty expression", lead if lead < len(text) else 0)

    def attempt(src: str, delta: int) -> tuple[ast.Expression | None, ExprError | None]:
        comp = _Compiler(text, src, delta, frozenset())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. invalid escapes in a regex literal
                return ast.parse(src, mode="eval"), None
        except SyntaxError as exc:
            if exc.lineno is None:  # e.g. null bytes: no position from Python
                nul = text.find("\0")
                return None, ExprError(f"syntax error: {exc.msg}", max(nul, 0))
            # SyntaxError columns are 1-based characters, not bytes.
            i = exc.lineno - 1
            where = len(text) if i >= len(comp.lines) else comp.starts[i] + max((exc.offset or 1) - 1, 0) + delta
            return None, ExprError(f"syntax error: {exc.msg}", max(0, min(where, len(text))))
        except (RecursionError, MemoryError):
            return None, ExprError("expression is too complex (nested too deeply)", lead)
        except (ValueError, OverflowError) as exc:
            return None, ExprError(f"syntax error: {exc}", lead)

    # A trailing newline makes Python place end-of-input errors after the text.
    tree, error = attempt(body + "\n", lead)
    first_break = _NEWLINE.search(body.rstrip())
    # An error inside the first line's content is genuine (wrapping would not fix
    # it, or would only hide it, as with "a) + (b"); one at its end may just be
    # Python refusing to continue the expression on the next line.
    genuine = (
        error is not None
        and first_break is not None
        and error.offset - lead < len(body[: first_break.start()].rstrip())
    )
    if tree is None and first_break is not None and not genuine:
        # Python only joins lines inside brackets: wrap the text in parentheses.
        # Reject the result if the user's own ')' closed our '(' (e.g. "a) + (b"):
        # then the whole expression starts at our parenthesis, column 0.
        wrapped, werror = attempt("(" + body + "\n)", lead - 1)
        if wrapped is not None and (wrapped.body.lineno, wrapped.body.col_offset) != (1, 0):
            return wrapped, _Compiler(text, "(" + body + "\n)", lead - 1, frozenset())
        if werror is not None:
            error = werror
    if tree is None:
        assert error is not None
        return error
    return tree, _Compiler(text, body + "\n", lead, frozenset())


@functools.lru_cache(maxsize=4096)
def _compile_cached(text: str, reserved: frozenset[str]) -> Expression:
    return _compile(text, reserved, None, False)


def _compile(text: str, reserved: frozenset[str], functions: Mapping[str, FunctionSpec] | None,
             tilde: bool) -> Expression:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is too long ({len(text)} characters; the limit is {MAX_LENGTH})", 0)
    source = text
    tildes: frozenset[int] = frozenset()
    if tilde and "~" in text:
        text, tildes = _tilde_to_plus(text)
    parsed = _parse(text)
    if isinstance(parsed, ExprError):
        if not tilde and "~" in text and parsed.message.startswith("syntax error"):
            joins = _tilde_to_plus(text)[1]
            if joins:
                raise ExprError("syntax error: '~' joins text only in source mappings; use + (or str()) in playbooks",
                                min(joins))
        raise parsed
    tree, comp = parsed
    comp.reserved = reserved
    comp.tildes = tildes
    if functions is not None:
        comp.functions = {**_FUNCTIONS, **functions}
    try:
        compiled = comp.compile(tree.body, 1)
    except ExprError:
        raise
    except (RecursionError, MemoryError):
        raise ExprError("expression is too complex (nested too deeply)", 0) from None
    except Exception as exc:  # a bug here must still not escape as anything but ExprError
        raise ExprError(f"internal error compiling expression: {type(exc).__name__}: {exc}", 0) from exc
    names = frozenset(comp.names)
    return Expression(
        source=source,
        facts_used=frozenset(comp.facts),
        names_used=names,
        is_constant=not names,
        facts_dynamic=comp.facts_refs > comp.facts_keyed,
        _fn=compiled.fn,
        _folded=compiled.const,
    )


def compile_expression(text: str, reserved: frozenset[str] = PATTERN_NAMES, *,
                       functions: Mapping[str, FunctionSpec] | None = None, tilde: bool = False) -> Expression:
    """Compile an expression; raises :class:`ExprError` (with ``offset``) only.

    A bare name in ``reserved`` reads ``scope.vars``, any other reads ``scope.bare``.
    Results are cached: the same text compiles once.

    A dialect (source mappings, :mod:`engine.sources.mapping`) may add ``functions``
    (name -> ``(fewest arguments, most or None, builder)``, see :func:`simple_function`)
    and ``tilde``: ``a ~ b`` joins both as text. Such expressions are not cached.
    """
    if not isinstance(text, str):
        raise ExprError(f"an expression must be a string, not {_describe(text)}", 0)
    try:
        if functions is not None or tilde:
            return _compile(text, frozenset(reserved), functions, tilde)
        return _compile_cached(text, frozenset(reserved))
    except ExprError:
        raise
    except (RecursionError, MemoryError):
        raise ExprError("expression is too complex", 0) from None


# --- templates --------------------------------------------------------------------


def _constant_size(expr: Expression, whole: bool) -> int:
    """The size of a part that reads no name and is not kept folded (``local(0, '%c' *
    5000)``, a constant too large to fold): evaluated now and dropped. Over the limit it
    always will be: more than ``MAX_SIZE``. Any other failure is left to run time (0)."""
    try:
        value = expr.evaluate(_FOLD_SCOPE)
        if whole:
            _check_value(value)
            return 0
        return len(_capped_text(value))
    except _LimitError:
        return MAX_SIZE + 1
    except EvalError:
        return 0


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template. ``render`` raises :class:`EvalError` only.

    Exactly one ``{{ expr }}`` and nothing else keeps the value's type; otherwise
    the parts are joined with :func:`render_text`; no ``{{`` at all is a constant.
    """

    source: str
    facts_used: frozenset[str]
    names_used: frozenset[str]
    is_constant: bool
    facts_dynamic: bool
    _fn: Fn = field(repr=False, compare=False)
    _folded: bool = field(default=False, repr=False, compare=False)  # value known at compile time

    def render(self, scope: Scope) -> Any:
        try:
            return self._fn(scope)
        except EvalError:
            raise
        except Exception as exc:
            raise _wrap(exc) from exc


def compile_template(text: str, reserved: frozenset[str] = TEMPLATE_NAMES) -> Template:
    """Compile a ``{{ expr }}`` template; raises :class:`ExprError` (offset into ``text``) only."""
    if not isinstance(text, str):
        raise ExprError(f"a template must be a string, not {_describe(text)}", 0)
    pieces: list[str | Expression] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            if pos < len(text):
                pieces.append(text[pos:])
            break
        if start > pos:
            pieces.append(text[pos:start])
        end = text.find("}}", start + 2)
        if end < 0:
            raise ExprError("'{{' is never closed with '}}'", start)
        inner = text[start + 2 : end]
        if not inner.strip():
            raise ExprError("empty expression in '{{ }}'", start)
        try:
            pieces.append(compile_expression(inner, reserved))
        except ExprError as exc:
            raise ExprError(exc.message, start + 2 + exc.offset) from None
        pos = end + 2

    exprs = [p for p in pieces if isinstance(p, Expression)]
    facts = frozenset().union(*(e.facts_used for e in exprs))
    names = frozenset().union(*(e.names_used for e in exprs))
    dynamic = any(e.facts_dynamic for e in exprs)

    def make(fn: Fn) -> Template:
        return Template(text, facts, names, not names, dynamic, fn)

    if not exprs:
        if len(text) > MAX_SIZE:
            raise ExprError(f"this text is {len(text)} characters long; the limit for a value is {MAX_SIZE}", 0)

        def constant(s: Scope) -> Any:
            return text

        return make(constant)
    static_error = ExprError(
        f"this template's fixed text (outside {{{{ }}}}, with its constant parts) is longer than "
        f"the limit for a value ({MAX_SIZE} characters): shorten it",
        0,
    )
    if len(pieces) == 1:
        if exprs[0].is_constant and _constant_size(exprs[0], whole=True) > MAX_SIZE:
            raise static_error
        only = exprs[0]._fn

        def whole(s: Scope) -> Any:
            return _check_value(only(s))  # keeps the value's type

        return make(whole)

    # Render parts whose value is known at compile time now (never local(): it
    # depends on the scope's tz, so it is not folded) and merge adjacent text, so
    # rendering joins as few parts as possible. The fixed text (with every part that
    # reads no name) may not pass the limit for a value: found as soon as it does.
    parts: list[str | Fn] = []
    run: list[str] = []  # adjacent fixed text, joined once
    static = 0
    for p in pieces:
        if isinstance(p, Expression):
            if p.is_constant and not p._folded:
                static += _constant_size(p, whole=False)
            if not p._folded:
                if run:
                    parts.append("".join(run))
                    run = []
                parts.append(p._fn)
            else:
                p = render_text(p.evaluate(_FOLD_SCOPE))
                static += len(p)
                run.append(p)
        else:
            static += len(p)
            run.append(p)
        if static > MAX_SIZE:
            raise static_error
    if run:
        parts.append("".join(run))
    frozen_parts = tuple(parts)
    if len(frozen_parts) == 1 and isinstance(frozen_parts[0], str):
        joined = frozen_parts[0]
        return make(lambda s: joined)

    def render(s: Scope) -> Any:
        # Part by part, refused as soon as the text passes the limit: 30,000 parts of a
        # long field never make a 3-million-character string.
        out: list[str] = []
        total = 0
        for p in frozen_parts:
            t = p if type(p) is str else _capped_text(p(s))  # type: ignore[operator]
            total += len(t)
            if total > MAX_SIZE:
                raise _too_long("the template's text")
            out.append(t)
        return "".join(out)

    return make(render)
