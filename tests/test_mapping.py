"""Source mappings (engine/sources/mapping.py, docs/sources.md): a declared file maps an
export's records onto events; errors at their places; every record counted."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from engine import Engine, EngineError, PlaybookError, load_source, read_events, read_mapped
from engine.expressions import ExprError, Scope, compile_expression
from engine.sources import load_source_text
from tests.conftest import ROOT
from tests.test_properties import PLAYBOOKS, events_st

DATA = ROOT / "tests" / "data" / "sources"
ZENDESK = str(DATA / "zendesk-tickets.yaml")
EXPORT = str(DATA / "zendesk-tickets.csv")

PLAYBOOK = """playbook: p
version: 1
rules:
  - id: ack
    when: customer.message
    expect: {type: vendor.reply, same: [thread_id], within: 1h}
    actions: {on_breach: [{do: escalate}], on_met: [{do: ok}]}
"""


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def pb(tmp_path: Path) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(PLAYBOOK)
    return str(path)


def write_source(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- the issue's example, golden ---------------------------------------------------


def test_the_issues_zendesk_example_maps_as_written_and_counts_every_record() -> None:
    rel = "tests/data/sources/zendesk-tickets.csv"
    reader = read_mapped(load_source(ZENDESK), EXPORT, display=rel)
    events = list(reader)
    expected = [json.loads(line) for line in (DATA / "zendesk-tickets.expected.jsonl").read_text().splitlines()]
    assert [(e.source, e.data, e.error) for e in events] == [(x["source"], x["event"], x["error"]) for x in expected]
    c = reader.counts
    assert (c.records, c.mapped, c.dropped.count, c.unmatched.count, c.invalid.count) == (6, 3, 1, 1, 1)
    assert c.unmatched.samples == [(f"{rel}:6", "no type rule matched")]
    # A time that does not parse: its file:line and the value.
    assert c.invalid.samples[0][0] == f"{rel}:7" and "'13/45/2026 10:20'" in c.invalid.samples[0][1]


def test_times_without_an_offset_are_read_in_the_sources_time_zone(tmp_path: Path) -> None:
    src = load_source_text("source: s\ntimezone: America/Chicago\nfields:\n  time: {from: t, format: '%Y-%m-%d %H:%M'}\n"
                           "  summer: \"parse_time(record['t2'], '%Y-%m-%d %H:%M')\"\n  utc: {from: u, format: iso}\n"
                           "  epoch: {from: e, format: epoch_ms}\ntype: x\n")
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps({"t": "2026-01-15 09:00", "t2": "2026-07-15 09:00", "u": "2026-01-15T09:00:00+01:00",
                                "e": 1767225600000}) + "\n")
    (event,) = read_mapped(src, str(path))
    assert event.data == {"time": "2026-01-15T15:00:00Z", "summer": "2026-07-15T14:00:00Z",
                          "utc": "2026-01-15T08:00:00Z", "epoch": "2026-01-01T00:00:00Z", "type": "x"}


# --- expressions ----------------------------------------------------------------------


def test_tilde_joins_text_in_mappings_only() -> None:
    expr = compile_expression("'zd-' ~ record['n'] ~ '-' ~ record['m']", frozenset({"record"}), tilde=True)
    assert expr.evaluate(Scope({"record": {"n": 12, "m": None}})) == "zd-12-"
    assert compile_expression("1 + 2 ~ 'x'", frozenset(), tilde=True).evaluate(Scope({})) == "3x"
    with pytest.raises(ExprError, match="'~' is not allowed"):
        compile_expression("~ 1", frozenset(), tilde=True)
    with pytest.raises(ExprError, match="syntax error"):
        compile_expression("'a' ~ 'b'")  # the playbook language is unchanged


@pytest.mark.parametrize(("text", "value"), [
    ("split(record['tags'], ',')", ["a", " b", "c"]),
    ("strip(split(record['tags'], ',')[1])", "b"),
    ("replace(record['name'], 'Inc.', 'Inc')", "Acme Inc"),
    ("title(record['who'])", "Jane Doe"),
    ("bool(record['flag'])", True),
    ("int(record['n']) + 1", 42),
    ("lookup('plans', record['plan'])", "pro"),
    ("lookup('plans', record['missing'], 'free')", "free"),
    ("coalesce(record['missing'], lower(record['name']))", "acme inc."),
    ("parse_time(record['day'], '%d.%m.%Y')", "2026-03-02T00:00:00Z"),
])
def test_mapping_functions(text: str, value: Any) -> None:
    src = load_source_text(f"source: s\ntype: x\ntables: {{plans: {{P1: pro}}}}\nfields:\n  v: \"{text}\"\n")
    record = {"tags": "a, b,c", "name": "Acme Inc.", "who": "jane doe", "flag": "Yes", "n": "41", "plan": "P1",
              "day": "02.03.2026"}
    events = list(read_mapped(src, _jsonl_file([record])))
    assert events[0].data["v"] == value


def _jsonl_file(records: list[Any], tmp: list[Path] = []) -> str:  # noqa: B006 - one temp dir per session
    import tempfile

    if not tmp:
        tmp.append(Path(tempfile.mkdtemp()))
    path = tmp[0] / f"r{len(list(tmp[0].iterdir()))}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


# --- errors with places ------------------------------------------------------------------


def test_every_problem_of_a_source_file_at_once_with_its_place(tmp_path: Path) -> None:
    path = write_source(tmp_path, "source: s\ntimezone: America/Chicgo\nfields:\n  account: \"lowr(record['Org'])\"\n"
                        "  x: \"lookup('acounts', record['a'])\"\n  t: {from: a, format: 'mm/dd'}\n"
                        "type:\n  - {default: x}\n  - {when: \"record[\", is: y}\ntables: {accounts: {a: b}}\ncolour: red\n")
    with pytest.raises(PlaybookError) as info:
        load_source(path)
    got = [str(d) for d in info.value.diagnostics]
    assert got == [f"{path}:11:1: unknown key 'colour' at the top of the source file; allowed: description, drop, "
                   "fields, format, pass_through, source, tables, timezone, type"]
    # the schema error alone stops before compiling; without it, every other problem at once:
    Path(path).write_text(Path(path).read_text().replace("colour: red\n", ""))
    with pytest.raises(PlaybookError) as info:
        load_source(path)
    assert [str(d) for d in info.value.diagnostics] == [
        f"{path}:2:11: unknown time zone 'America/Chicgo' (did you mean 'America/Chicago'?)",
        f"{path}:4:13: invalid expression: unknown function 'lowr' (did you mean 'lower'?)",
        f"{path}:5:14: invalid expression: no table 'acounts' (did you mean 'accounts'?); the tables are: accounts",
        f"{path}:6:24: 'mm/dd' is not a time format: write a strftime format such as '%m/%d/%Y %H:%M', "
        "or one of iso, epoch, epoch_ms",
        f"{path}:8:5: the default must be the last item: the rules after it would never be tried",
        f"{path}:9:19: invalid expression: syntax error: '[' was never closed",
    ]


def test_an_unknown_column_names_the_columns_that_exist_at_its_place(tmp_path: Path) -> None:
    text = Path(ZENDESK).read_text().replace("record['Ticket ID'] ~ '-'", "record['Tiket ID'] ~ '-'")
    path = write_source(tmp_path, text)
    with pytest.raises(PlaybookError) as info:
        list(read_mapped(load_source(path), EXPORT))
    (diag,) = info.value.diagnostics
    assert str(diag) == (f"{path}:6:23: no column 'Tiket ID' in {EXPORT} (did you mean 'Ticket ID'?); columns: "
                         "'Ticket ID', 'Update ID', 'Updated at', 'Organization', 'Priority', 'Update type', 'Author role'")


def test_hostile_values_make_records_invalid_never_a_crash(tmp_path: Path) -> None:
    src = load_source_text("source: s\ntype: x\nfields:\n  a: \"int(record['n'])\"\n  b: \"record['n'] ~ 'x' * 100000\"\n")
    events = list(read_mapped(src, _jsonl_file([{"n": "abc"}, {"n": [1]}, "not an object", {"n": "7"}])))
    assert [e.error is None for e in events] == [False, False, False, False]
    assert "int() cannot convert 'abc'" in (events[0].error or "")


# --- formats ---------------------------------------------------------------------------


def test_jsonl_json_and_gzip_read_the_same_records(tmp_path: Path) -> None:
    src = load_source_text("source: s\ntype: x\nfields:\n  account: \"record['a']\"\n  time: {from: t, format: iso}\n")
    records = [{"a": "acme", "t": "2026-01-01T00:00:00Z"}, {"a": "globex", "t": "2026-01-02T00:00:00Z"}]
    (tmp_path / "r.json").write_bytes(orjson.dumps(records))
    with gzip.open(tmp_path / "r.jsonl.gz", "wb") as fh:
        fh.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
    got = {name: [e.data for e in read_mapped(src, str(tmp_path / name))] for name in ("r.json", "r.jsonl.gz")}
    assert got["r.json"] == got["r.jsonl.gz"] == [{"account": "acme", "time": "2026-01-01T00:00:00Z", "type": "x"},
                                                  {"account": "globex", "time": "2026-01-02T00:00:00Z", "type": "x"}]
    assert [e.source for e in read_mapped(src, str(tmp_path / "r.json"))] == [f"{tmp_path / 'r.json'}:row 1",
                                                                              f"{tmp_path / 'r.json'}:row 2"]


def test_parquet_is_read_by_row_group_with_row_numbers(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from datetime import UTC, datetime

    table = pa.table({"org": ["Acme", "Globex", "Initech"],
                      "at": [datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 1, 10, tzinfo=UTC), None]})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=2)
    src = load_source_text("source: s\ntype: x\nfields:\n  account: \"lower(record['org'])\"\n"
                           "  time: {from: at, format: iso}\n")
    events = list(read_mapped(src, str(tmp_path / "t.parquet")))
    assert [e.data for e in events[:2]] == [{"account": "acme", "time": "2026-01-01T09:00:00Z", "type": "x"},
                                            {"account": "globex", "time": "2026-01-01T10:00:00Z", "type": "x"}]
    assert events[2].source == f"{tmp_path / 't.parquet'}:row 3" and "no time in column 'at'" in (events[2].error or "")


# --- the CLI -----------------------------------------------------------------------------


def test_run_with_a_source_and_without_pairs_each_events_with_the_source_after_it(pb: str, tmp_path: Path) -> None:
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"type": "vendor.reply", "time": "2026-03-02T16:30:00Z", "account": "globex",
                                 "thread_id": "103"}) + "\n")
    done = cli("run", pb, "--events", str(plain), "--events", EXPORT, "--source", ZENDESK)
    assert done.exit_code == 0, done.output
    actions = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(a["outcome"], a["subject"]) for a in actions] == [("breach", {"thread_id": "101"}),
                                                               ("met", {"thread_id": "103"})]
    assert (f"source zendesk-tickets ({EXPORT}): 6 records: 3 mapped, 1 dropped (drop), 1 no type matched, "
            "1 invalid") in done.stderr
    # the order on the command line decides the pairing:
    swapped = cli("run", pb, "--events", EXPORT, "--source", ZENDESK, "--events", str(plain))
    assert swapped.exit_code == 0 and swapped.stdout == done.stdout
    bad = cli("run", pb, "--source", ZENDESK, "--events", EXPORT)
    assert bad.exit_code == 2 and "give it after the --events it maps" in bad.output
    twice = cli("run", pb, "--events", EXPORT, "--source", ZENDESK, "--source", ZENDESK)
    assert twice.exit_code == 2 and "already has a --source" in twice.output


def test_a_bad_source_file_is_reported_with_its_place_not_a_traceback(pb: str, tmp_path: Path) -> None:
    path = write_source(tmp_path, "source: s\nfields:\n  a: \"lowr(record['x'])\"\n")
    done = cli("run", pb, "--events", EXPORT, "--source", path)
    assert done.exit_code == 1
    assert f"{path}:3:7: invalid expression: unknown function 'lowr'" in done.output
    assert "Traceback" not in done.output


def test_sources_check_shows_records_beside_events_and_the_counts() -> None:
    done = cli("sources", "check", ZENDESK, "--events", EXPORT, "--limit", "1")
    assert done.exit_code == 1  # an invalid record and an unmatched one
    lines = done.stdout.splitlines()
    assert lines[0] == f"{EXPORT}:2"
    assert json.loads(lines[1].split(":", 1)[1])["Ticket ID"] == "101"
    assert json.loads(lines[2].split(":", 1)[1]) == {"id": "zd-101-1", "time": "2026-03-02T14:05:00Z", "account": "acme",
                                                     "thread_id": "101", "priority": "high", "type": "customer.message"}
    assert "6 records: 3 mapped, 1 dropped (drop), 1 no type matched, 1 invalid" in done.stdout
    as_json = json.loads(cli("sources", "check", ZENDESK, "--events", EXPORT, "--format", "json").stdout)
    assert len(as_json["events"]) == 3 and as_json["counts"]["invalid"]["count"] == 1


def test_explain_ingest_and_test_read_through_a_source(pb: str, tmp_path: Path) -> None:
    done = cli("explain", pb, "--events", EXPORT, "--source", ZENDESK, "--rule", "ack", "--key", "acme")
    assert done.exit_code == 0, done.output
    assert "breach" in done.stdout
    db = tmp_path / "s.db"
    done = cli("ingest", EXPORT, "--source", ZENDESK, "--db", str(db))
    assert done.exit_code == 0, done.output
    assert "3 events loaded" in done.output and "3 mapped" in done.output
    (tmp_path / "p.test.yaml").write_text(
        f"playbooks: [p.yaml]\ncases:\n  - name: mapped\n    events_file: {EXPORT}\n    source: {ZENDESK}\n"
        "    until: '2026-03-02T16:00:00Z'\n    expect:\n      - {rule: ack, outcome: breach, subject: {thread_id: '101'}}\n")
    done = cli("test", str(tmp_path / "p.test.yaml"))
    # the export's invalid record fails the case, saying where
    assert done.exit_code == 1 and "zendesk-tickets.csv:7" in done.output and "13/45/2026 10:20" in done.output
    # so does the record no type rule matched (a run skips it too), saying where
    assert "zendesk-tickets.csv:6: source zendesk-tickets: no type rule matched" in done.output
    good = tmp_path / "good.csv"
    good.write_text("\n".join(Path(EXPORT).read_text().splitlines()[:5]) + "\n")
    (tmp_path / "p.test.yaml").write_text((tmp_path / "p.test.yaml").read_text().replace(EXPORT, str(good)))
    done = cli("test", str(tmp_path / "p.test.yaml"))
    assert done.exit_code == 0, done.output


# --- properties --------------------------------------------------------------------------

IDENTITY = load_source_text("source: identity\nformat: jsonl\npass_through: true\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(events_st)
def test_an_identity_source_gives_the_same_actions_as_no_source(events: list[dict[str, Any]]) -> None:
    path = _jsonl_file(events)
    plain = [a.to_json() for a in Engine(PLAYBOOKS).run(read_events(path))]
    mapped = [a.to_json() for a in Engine(PLAYBOOKS).run(read_mapped(IDENTITY, path))]
    assert mapped == plain


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
json_value = st.recursive(json_scalar, lambda c: st.one_of(st.lists(c, max_size=3),
                                                          st.dictionaries(st.text(max_size=6), c, max_size=3)),
                          max_leaves=8)
HOSTILE = load_source_text("""source: hostile
timezone: Europe/Paris
tables: {plans: {a: b}}
fields:
  id: "'x' ~ record['id'] ~ record.n"
  time: {from: t, format: '%Y-%m-%d %H:%M'}
  when2: "parse_time(record['t'], 'iso')"
  account: "lower(strip(record['a']))"
  parts: "split(record['a'], ',')"
  n: "int(record['n']) + float(record['n'])"
  flag: "bool(record['n'])"
  plan: "lookup('plans', record['a'], title(record['a']))"
  r: "replace(record['a'], 'a', 'bb')"
type:
  - {when: "record['kind'] == 'x'", is: x}
  - {default: y}
drop: "record['drop']"
""")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(json_value, st.dictionaries(st.sampled_from(["id", "t", "a", "n", "kind", "drop"]), json_value,
                                                      max_size=6)), max_size=10))
def test_hostile_records_give_invalid_records_never_another_error(records: list[Any]) -> None:
    path = _jsonl_file(records)
    try:
        reader = read_mapped(HOSTILE, path)
        events = list(reader)
        Engine(PLAYBOOKS).run(events)
    except EngineError:
        return
    c = reader.counts
    assert c.records == len(records) == c.mapped + c.dropped.count + c.unmatched.count + c.invalid.count


def test_csv_lines_too_long_and_invalid_utf8_are_counted_at_their_lines(tmp_path: Path) -> None:
    src = load_source_text("source: s\ntype: x\nfields:\n  account: \"record['a']\"\n")
    path = tmp_path / "e.csv"
    path.write_bytes(b"a,b\nacme,1\n" + b"x" * 200 + b",2\ngl\xffbex,3\n")
    reader = read_mapped(src, str(path), max_line_bytes=100)
    events = list(reader)
    assert [(e.source, e.error is None) for e in events] == [(f"{path}:2", True), (f"{path}:3", False),
                                                             (f"{path}:4", True)]
    assert "line too long: 203 bytes" in (events[1].error or "")
    assert events[2].data == {"account": "gl\ufffdbex", "type": "x"}
    assert events[2].notes and events[2].notes[0].startswith("invalid UTF-8: byte 0xff at column 3 of line 4")
    engine = Engine(PLAYBOOKS)
    engine.run(events)
    assert sum(p.count for p in engine.summary.input_warnings.values()) == 1  # counted, not silently read
    assert reader.counts.invalid.count == 1 and reader.counts.mapped == 2


def _schema_keys(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, sub in node.get("properties", {}).items():
        found.append((f"{path}.{name}", sub))
        found.extend(_schema_keys(sub, f"{path}.{name}"))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        found.append((f"{path}.*", extra))
        found.extend(_schema_keys(extra, f"{path}.*"))
    if isinstance(node.get("items"), dict):
        found.extend(_schema_keys(node["items"], f"{path}[]"))
    for i, sub in enumerate(node.get("anyOf", [])):
        found.extend(_schema_keys(sub, f"{path}|{i}"))
    return found


def test_every_key_of_the_source_schema_has_a_description_and_examples_that_load() -> None:
    schema = json.loads((ROOT / "schemas" / "source.schema.json").read_text())
    keys = _schema_keys(schema)
    assert {".source", ".fields.*", ".fields.*|1.format", ".type|1[].when", ".tables.*"} <= {p for p, _ in keys}
    for path, sub in keys:
        assert sub.get("description") and sub.get("examples"), f"{path}: no description or examples"
    import jsonschema

    for _path, sub in keys:
        for example in sub["examples"]:
            jsonschema.validate(example, sub)
    # the example mapping names the schema for editors, and the command prints it
    first = Path(ZENDESK).read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (Path(ZENDESK).parent / first.split("=", 1)[1]).resolve() == (ROOT / "schemas" / "source.schema.json")
    assert json.loads(cli("sources", "schema").stdout) == schema


def test_tilde_inside_text_and_beside_plus() -> None:
    def value(text: str) -> Any:
        return compile_expression(text, frozenset({"record"}), tilde=True).evaluate(Scope({"record": {"a": 1, "b": 2}}))

    assert value("'a~b' ~ 'c'") == "a~bc"
    assert value("(record['a'] ~ record['b']) + 'x'") == "12x"
    assert value("'n' ~ (record['a'] + record['b'])") == "n3"
    assert value("record['a'] + record['b'] ~ '!'") == "3!"


source_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 5),
              st.sampled_from(["x", "record['a']", "lower(", "~", "%Y", "iso", "lookup('t', 1)", "America/Chicago",
                               "Mars/Base", "a.b", "{default: x}"])),
    lambda c: st.one_of(st.lists(c, max_size=3),
                        st.dictionaries(st.sampled_from(["source", "format", "timezone", "fields", "type", "drop",
                                                         "tables", "when", "is", "default", "from", "pass_through",
                                                         "t", "a"]), c, max_size=4)),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["source", "format", "timezone", "fields", "type", "drop", "tables",
                                        "pass_through"]), source_value, max_size=6))
def test_any_source_file_loads_or_says_where_it_is_wrong(data: dict[str, Any]) -> None:
    import yaml

    text = yaml.safe_dump(data)
    try:
        load_source_text(text, "s.yaml")
    except PlaybookError as exc:
        assert exc.diagnostics and all(d.file == "s.yaml" for d in exc.diagnostics)


# --- review fixes ------------------------------------------------------------------


def test_an_unclosed_quote_in_a_mapped_csv_is_one_invalid_row_and_the_rows_after_it_are_read(tmp_path: Path) -> None:
    src = load_source_text("source: s\ntype: x\nfields:\n  account: \"record['account']\"\n")
    path = tmp_path / "e.csv"
    path.write_text('type,account\nx,acme\nx,"glob\nx,initech\nx,hooli\n')
    reader = read_mapped(src, str(path))
    events = list(reader)
    assert [(e.source, e.data) for e in events if e.error is None] == [
        (f"{path}:2", {"account": "acme", "type": "x"}), (f"{path}:4", {"account": "initech", "type": "x"}),
        (f"{path}:5", {"account": "hooli", "type": "x"})]
    bad = [e for e in events if e.error is not None]
    assert [e.source for e in bad] == [f"{path}:3"] and "never closed" in (bad[0].error or "")
    assert (reader.counts.records, reader.counts.mapped, reader.counts.invalid.count) == (4, 3, 1)


def test_parquet_nanosecond_timestamps_naive_times_and_unreadable_columns(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from datetime import datetime, timedelta

    ns = pa.array([1_772_438_400_123_456_789, 1_772_438_401_000_000_000], pa.timestamp("ns", "UTC"))
    table = pa.table({"ts": ns, "naive": [datetime(2026, 3, 8, 2, 30), datetime(2026, 1, 5, 9, 0)],
                      "org": ["acme", "globex"], "dur": pa.array([timedelta(seconds=1), None], pa.duration("s")),
                      "raw": pa.array([b"a\xff", b"b"], pa.binary())})
    pq.write_table(table, tmp_path / "t.parquet")
    src = load_source_text("source: s\ntype: x\ntimezone: America/Chicago\nfields:\n  account: \"record.org\"\n"
                           "  time: {from: ts, format: iso}\n  local: \"record.naive\"\n  raw: \"record.raw\"\n")
    reader = read_mapped(src, str(tmp_path / "t.parquet"))
    events = list(reader)
    assert [e.error for e in events] == [None, None]  # the duration column is never read: no row refused
    assert events[0].data == {"account": "acme", "time": "2026-03-02T08:00:00.123456Z",  # ns truncated to us
                              "local": "2026-03-08T08:00:00Z",  # in the spring gap: the first instant after it
                              "raw": "a\ufffd", "type": "x"}
    assert events[1].data["local"] == "2026-01-05T15:00:00Z"
    assert events[0].notes == ("column 'raw': invalid UTF-8 read as U+FFFD (two different values may now read the same)",)
    assert events[1].notes == ()
    through = load_source_text("source: s\ntype: x\npass_through: true\n")
    got = list(read_mapped(through, str(tmp_path / "t.parquet")))
    assert got[0].data["dur"] == "0:00:01" and any("column 'dur'" in n for n in got[0].notes)


def test_parquet_is_read_in_batches_not_whole_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from engine.sources import mapping

    pq.write_table(pa.table({"org": [f"o{i}" for i in range(10)]}), tmp_path / "t.parquet", row_group_size=10)
    sizes: list[int] = []
    convert = mapping._parquet_column

    def spy(pa_: Any, array: Any, *rest: Any) -> Any:
        sizes.append(len(array))
        return convert(pa_, array, *rest)

    monkeypatch.setattr(mapping, "PARQUET_BATCH_ROWS", 3)
    monkeypatch.setattr(mapping, "_parquet_column", spy)
    src = load_source_text("source: s\ntype: x\nfields:\n  account: \"record.org\"\n")
    events = list(read_mapped(src, str(tmp_path / "t.parquet")))
    assert [e.data["account"] for e in events] == [f"o{i}" for i in range(10)]
    assert max(sizes) == 3


def test_sources_check_applies_the_engines_check_and_warns_of_keys_no_record_has(tmp_path: Path) -> None:
    raw = write_source(tmp_path, "source: raw\nfields:\n  time: \"record['Updated at']\"\n"
                                 "  account: \"record['Organization']\"\ntype: customer.message\n", "raw.yaml")
    result = cli("sources", "check", raw, "--events", EXPORT, "--limit", "1")
    assert result.exit_code == 1  # the engine would skip every one of them: none is "mapped"
    assert "6 records: 0 mapped, 0 dropped (drop), 0 no type matched, 6 invalid" in result.output
    assert "zendesk-tickets.csv:2: bad 'time': unparseable time '03/02/2026 08:05'" in result.output
    events = tmp_path / "e.jsonl"
    events.write_text('{"t": "2026-03-02T08:00:00Z", "context": {"groupId": "acme"}}\n')
    typo = write_source(tmp_path, "source: typo\nformat: jsonl\nfields:\n  time: \"record.t\"\n"
                                  "  account: \"record.context.groupid\"\ntype: customer.message\n", "typo.yaml")
    result = cli("sources", "check", typo, "--events", str(events))
    assert result.exit_code == 0, result.output
    assert (f"warning: {typo}:5:13: no record checked has a key 'groupid' (did you mean 'groupId'?): "
            "it reads as null") in result.output
    result = cli("sources", "check", typo, "--events", str(events), "--format", "json")
    assert json.loads(result.output)["warnings"] == [
        f"{typo}:5:13: no record checked has a key 'groupid' (did you mean 'groupId'?): it reads as null"]


IDENTITY_CSV = load_source_text("source: identity\nformat: csv\npass_through: true\n")
_CSV_COLUMNS = ["type", "time", "account", "thread", "incident", "channel", "severity", "region", "location",
                "module", "urgent", "tier", "roi.value_usd"]


def _csv_file(events: list[dict[str, Any]], tmp: list[Path] = []) -> str:  # noqa: B006 - one temp dir per session
    import csv
    import tempfile

    if not tmp:
        tmp.append(Path(tempfile.mkdtemp()))
    path = tmp[0] / "events.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(_CSV_COLUMNS)
        for e in events:
            flat = {**e, "roi.value_usd": e["roi"]["value_usd"]} if "roi" in e else e
            out.writerow(["" if c not in flat else json.dumps(flat[c]) if not isinstance(flat[c], str) else flat[c]
                          for c in _CSV_COLUMNS])
    return str(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(events_st)
def test_an_identity_source_over_csv_gives_the_same_events_and_actions_as_no_source(events: list[dict[str, Any]]) -> None:
    path = _csv_file(events)
    assert [e.data for e in read_mapped(IDENTITY_CSV, path)] == [e.data for e in read_events(path)] == events
    plain = [a.to_json() for a in Engine(PLAYBOOKS).run(read_events(path))]
    mapped = [a.to_json() for a in Engine(PLAYBOOKS).run(read_mapped(IDENTITY_CSV, path))]
    assert mapped == plain


def test_explain_prints_the_mapping_counts_and_why_not_names_the_records_a_source_left_out() -> None:
    result = cli("explain", str(ROOT / "playbooks" / "us-retention.yaml"), "--events", EXPORT, "--source", ZENDESK,
                 "--rule", "ticket-first-response", "--key", "initech", "--why-not")
    assert result.exit_code == 0, result.output
    assert "6 records: 3 mapped, 1 dropped (drop), 1 no type matched, 1 invalid" in result.stderr
    assert (f"- source zendesk-tickets ({EXPORT}) left out 3 of its 6 records (1 dropped (drop), "
            f"1 no type matched, 1 invalid; e.g. {EXPORT}:7: field 'time'") in result.stdout


def test_time_formats_a_spring_gap_moves_on_and_formats_without_a_year_or_with_bad_directives_are_refused() -> None:
    src = load_source_text("source: s\nformat: jsonl\ntimezone: America/Chicago\ntype: x\nfields:\n"
                           "  time: {from: s, format: '%Y-%m-%d %H:%M'}\n  b: \"parse_time(record.s, 'iso')\"\n"
                           "  c: \"parse_time(record.s, '%Y-%m-%d %H:%M')\"\n")
    path = _jsonl_file([{"s": "2026-03-08 02:30"}, {"s": "2026-11-01 01:30"}])
    got = [e.data for e in read_mapped(src, path)]
    assert [(d["time"], d["b"], d["c"]) for d in got] == [  # the contract: the first instant after the gap
        ("2026-03-08T08:00:00Z",) * 3, ("2026-11-01T06:30:00Z",) * 3]  # ambiguous: the first occurrence
    cases = {
        "fields:\n  time: {from: s, format: '%m/%d %H:%M'}\n": (6, 27, "the format '%m/%d %H:%M' has no year (%Y or %y)"),
        "fields:\n  t: \"parse_time(record.s, '%H:%M')\"\n": (6, 28, "the format '%H:%M' has no year (%Y or %y)"),
        "fields:\n  time: {from: s, format: '%Q %Y'}\n": (6, 27, "'%Q %Y' cannot read times: 'Q' is a bad directive"),
        "fields:\n  time: {from: s, format: '%Y %'}\n": (6, 27, "'%Y %' cannot read times: stray % in format"),
    }
    for text, (line, col, message) in cases.items():
        with pytest.raises(PlaybookError) as exc:
            load_source_text("source: s\nformat: jsonl\ntimezone: UTC\ntype: x\n" + text, "s.yaml")
        d = exc.value.diagnostics[0]
        assert (d.line, d.col) == (line, col) and message in d.message, (text, d)


def test_records_no_type_rule_matched_are_skipped_events_toward_max_skipped(pb: str, tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text('{"k": "other", "t": "2026-03-02T08:00:00Z"}\n' * 3)
    src = write_source(tmp_path, "source: s\nformat: jsonl\nfields:\n  time: {from: t, format: iso}\n"
                                 "type:\n  - {when: \"record.k == 'ask'\", is: customer.message}\n")
    result = cli("run", pb, "--events", str(events), "--source", src, "--max-skipped", "0")
    assert result.exit_code == 1, result.output
    assert f"{events}:1: source s: no type rule matched" in result.stderr
    assert f"warning: source s mapped none of the 3 records of {events}" in result.stderr
    assert cli("run", pb, "--events", str(events), "--source", src, "--strict").exit_code != 0


def test_a_column_whose_name_has_a_tilde_can_be_read(tmp_path: Path) -> None:
    src = load_source_text("source: s\ntype: x\nfields:\n  account: \"record['a~b'] ~ '~' ~ record.c\"\n")
    path = tmp_path / "e.csv"
    path.write_text("a~b,c\nacme,1\n")
    assert [e.data for e in read_mapped(src, str(path))] == [{"account": "acme~1", "type": "x"}]


def test_a_json_array_source_keeps_integers_beyond_64_bits_as_jsonl_does(tmp_path: Path) -> None:
    src = load_source_text("source: s\ntype: x\npass_through: true\n")
    big = 123456789012345678901234567890
    (tmp_path / "e.json").write_text(f'[{{"account": {big}, "n": 1.5}}]')
    (tmp_path / "e.jsonl").write_text(f'{{"account": {big}, "n": 1.5}}\n')
    got = [e.data for e in read_mapped(src, str(tmp_path / "e.json"))]
    assert got == [e.data for e in read_mapped(src, str(tmp_path / "e.jsonl"))] == [{"account": big, "n": 1.5, "type": "x"}]


def test_a_tilde_in_a_playbook_says_it_joins_text_only_in_mappings() -> None:
    with pytest.raises(ExprError) as exc:
        compile_expression("event.a ~ event.b == 'x'")
    assert exc.value.message == "syntax error: '~' joins text only in source mappings; use + (or str()) in playbooks"
    assert exc.value.offset == 8
