"""Event sources: line limits, CSV damage, error places, epoch milliseconds, several
sources, and what readers count (bad UTF-8, duplicate keys, NaN)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from engine import Engine, load_playbook_text, read_events
from engine.sources import bounded_lines

PLAYBOOK = """playbook: p
version: 1
rules:
  - id: ack
    when: customer.message
    expect: {type: vendor.reply, same: [thread_id], within: 4h}
    actions: {on_breach: [{do: escalate}], on_met: [{do: ok}]}
"""


@pytest.fixture
def pb(tmp_path: Path) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(PLAYBOOK)
    return str(path)


def cli(*args: str, input: str | bytes | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), input=input)


def ev(t: str, etype: str = "customer.message", **extra: object) -> str:
    return json.dumps({"type": etype, "time": t, "account": "a", "thread_id": "t1", **extra})


# -- 2. a limit on the length of a line -----------------------------------------------------


class WatchedStream(io.BytesIO):
    """A stream that remembers the most bytes asked for at once."""

    asked = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        assert size is not None and size > 0, "a line was read whole"
        self.asked = max(self.asked, size)
        return super().readline(size)

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("lines were read whole")


def test_a_line_over_the_limit_is_read_past_in_chunks() -> None:
    data = b"short\n" + b"x" * 5_000_000 + b"\n" + b"after\n" + b"y" * 150 + b"\nlast"
    stream = WatchedStream(data)
    assert list(bounded_lines(stream, 100)) == [b"short\n", 5_000_001, b"after\n", 151, b"last"]
    assert stream.asked <= 1 << 16
    exact = b"z" * 100 + b"\n"
    assert list(bounded_lines(io.BytesIO(exact + exact[:-1]), 100)) == [exact, exact[:-1]]


def long_log(tmp_path: Path, suffix: str = ".jsonl") -> Path:
    lines = [ev("2026-03-02T10:00:00Z"), ev("2026-03-02T11:00:00Z", "m", pad="x" * 500),
             ev("2026-03-02T20:00:00Z", "vendor.reply")]
    path = tmp_path / f"e{suffix}"
    text = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
@pytest.mark.parametrize("extra", [[], ["--db", "DB"], ["--strict"]])
def test_run_skips_a_line_over_max_line_bytes_with_its_place(pb: str, tmp_path: Path, suffix: str,
                                                             extra: list[str]) -> None:
    path = long_log(tmp_path, suffix)
    extra = [str(tmp_path / "s.db") if a == "DB" else a for a in extra]
    r = cli("run", pb, "--events", str(path), "--max-line-bytes", "300", *extra)
    if "--strict" in extra:
        assert r.exit_code == 1 and f"{path.name}:2: line too long" in r.stderr, r.output
        return
    assert r.exit_code == 0, r.output
    assert f"{path.name}:2: line too long: 5" in r.stderr and "more than the limit of 300" in r.stderr
    assert '"outcome":"late"' in r.stdout or '"outcome":"breach"' in r.stdout
    assert "3 read, 2 processed, 1 skipped" in r.stderr
    # The default limit reads it.
    assert "1 skipped" not in cli("run", pb, "--events", str(path), *extra).stderr


def test_stdin_csv_ingest_and_explain_have_the_limit_too(pb: str, tmp_path: Path) -> None:
    path = long_log(tmp_path)
    r = cli("run", pb, "--events", "-", "--max-line-bytes", "300", input=path.read_bytes())
    assert r.exit_code == 0 and "<stdin>:2: line too long" in r.stderr, r.output
    csv = tmp_path / "e.csv"
    csv.write_text("type,time,account,thread_id,pad\ncustomer.message,2026-03-02T10:00:00Z,a,t1,\n"
                   f"m,2026-03-02T11:00:00Z,a,t1,{'x' * 500}\nvendor.reply,2026-03-02T12:00:00Z,a,t1,\n")
    r = cli("run", pb, "--events", str(csv), "--max-line-bytes", "300")
    assert r.exit_code == 0 and "e.csv:3: line too long" in r.stderr and '"outcome":"met"' in r.stdout, r.output
    r = cli("ingest", str(path), "--db", str(tmp_path / "i.db"), "--max-line-bytes", "300")
    assert r.exit_code == 0 and "2 events loaded" in r.stderr and "e.jsonl:2: line too long" in r.stderr, r.output
    r = cli("explain", pb, "--events", str(path), "--rule", "ack", "--max-line-bytes", "300")
    assert r.exit_code == 0, r.output
    assert cli("run", pb, "--events", str(path), "--max-line-bytes", "0").exit_code == 2


def test_the_python_api_takes_a_line_limit(tmp_path: Path) -> None:
    path = long_log(tmp_path)
    errors = [e.error for e in read_events(str(path), max_line_bytes=300) if e.error]
    assert len(errors) == 1 and errors[0].startswith("line too long")
    engine = Engine(load_playbook_text(PLAYBOOK, "p.yaml"))
    list(engine.stream(engine.ordered_events(str(path), max_line_bytes=300)))
    assert engine.summary.skipped["line too long"].samples[0][0].endswith("e.jsonl:2")


@pytest.mark.parametrize("in_order", [True, False])
def test_ordered_events_skip_a_line_longer_than_a_read_chunk(tmp_path: Path, in_order: bool) -> None:
    first, last = ev("2026-03-02T10:00:00Z"), ev("2026-03-02T20:00:00Z", "vendor.reply")
    lines = [first, ev("2026-03-02T11:00:00Z", "m", pad="x" * 5_000_000), last] if in_order else \
        [last, ev("2026-03-02T11:00:00Z", "m", pad="x" * 5_000_000), first]
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(lines) + "\n")
    engine = Engine(load_playbook_text(PLAYBOOK, "p.yaml"))
    actions = list(engine.stream(engine.ordered_events(str(path), max_line_bytes=1000)))
    assert [a.outcome for a in actions] == ["breach"]
    assert engine.summary.skipped["line too long"].samples[0][0].endswith("e.jsonl:2")
    assert engine.summary.events_processed == 2


# -- 3. a CSV quote that never closes -------------------------------------------------------

BROKEN_CSV = ("type,time,account,thread_id,note\n"
              "customer.message,2026-03-02T10:00:00Z,a,t1,\"unterminated\n"
              "customer.message,2026-03-02T11:00:00Z,a,t2,x\n"
              "vendor.reply,2026-03-02T12:00:00Z,a,t2,\"fine, with a comma\"\n")


def test_an_unterminated_csv_quote_is_reported_and_the_rows_after_it_are_read(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(BROKEN_CSV)
    r = cli("run", pb, "--events", str(path))
    assert r.exit_code == 0, r.output
    assert "e.csv:2: invalid CSV: " in r.stderr and "an unbalanced quote?" in r.stderr
    assert "3 read, 2 processed, 1 skipped" in r.stderr
    met = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(a["outcome"], a["subject"]) for a in met] == [("met", {"thread_id": "t2"})]
    strict = cli("run", pb, "--events", str(path), "--strict")
    assert strict.exit_code == 1 and "e.csv:2: invalid CSV" in strict.stderr, strict.output
    path.write_text(BROKEN_CSV.replace('"fine, with a comma"', "fine"))  # no quote after it: open to the end
    r = cli("run", pb, "--events", str(path))
    assert "e.csv:2: invalid CSV: a quote opened in this row is never closed" in r.stderr, r.output
    assert '"outcome":"met"' in r.stdout


def test_a_quoted_cell_over_several_lines_is_still_one_row() -> None:
    rows = list(read_events_text("type,time,note\nm,2026-03-02T10:00:00Z,\"two\nlines\"\nm,2026-03-02T11:00:00Z,x\n"))
    assert [(e.source, e.data["note"]) for e in rows] == [("e.csv:2", "two\nlines"), ("e.csv:4", "x")]


def read_events_text(text: str):  # type: ignore[no-untyped-def]
    from engine.sources import read_csv

    return read_csv(io.StringIO(text), "e.csv")


# -- 4. error details -----------------------------------------------------------------------


def test_a_line_cut_short_is_placed_where_it_ends(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"type":"m","time": \n{"type":"m", "account": "a", "n": 1x}\n')
    r = cli("run", pb, "--events", str(path))
    assert "e.jsonl:1: invalid JSON: the line ends at column 20, where more is expected" in r.stderr, r.stderr
    assert "cut short?" in r.stderr
    assert "e.jsonl:2: invalid JSON: Expecting ',' delimiter at column 36" in r.stderr, r.stderr


def test_a_json_nested_beyond_any_parser_has_a_column(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"a": "[[[", "b": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    r = cli("run", pb, "--events", str(path))
    assert r.exit_code == 0, r.output
    # The brackets in the string do not count: the 101st level opens at column 19 + 99 = 118.
    assert "e.jsonl:1: too deeply nested: more than 100 levels of objects and lists, at column 118" in r.stderr
    assert "column ?" not in r.stderr


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00Z", "9000-01-01T00:00:00Z"])
def test_a_time_out_of_range_names_the_range_exactly(text: str) -> None:
    from engine.timecalc import TimeError, parse_time

    with pytest.raises(TimeError) as err:
        parse_time(text)
    assert "from 0001-01-02T00:00:00Z up to (not including) 9000-01-01T00:00:00Z" in str(err.value)
    assert "years 1 to 9000" not in str(err.value)
    assert parse_time("0001-01-02T00:00:00Z") == -62_135_510_400 * 1_000_000
    assert parse_time("8999-12-31T23:59:59Z") == (221_845_392_000 - 1) * 1_000_000


# -- 5. epoch milliseconds ------------------------------------------------------------------


def test_epoch_milliseconds_are_read_where_seconds_cannot_mean_them() -> None:
    from engine.timecalc import TimeError, format_time, parse_time

    assert format_time(parse_time(1772460000000)) == "2026-03-02T14:00:00Z"          # milliseconds
    assert format_time(parse_time(1772460000123.0)) == "2026-03-02T14:00:00.123Z"
    assert format_time(parse_time(1772460000)) == "2026-03-02T14:00:00Z"             # seconds, as ever
    # The largest seconds value in range is still seconds; one more is the first milliseconds value.
    assert format_time(parse_time(221_845_391_999)) == "8999-12-31T23:59:59Z"
    assert format_time(parse_time(221_845_392_000)) == "1977-01-11T15:43:12Z"
    assert format_time(parse_time(9_999_999_999_999)) == "2286-11-20T17:46:39.999Z"  # the last one
    with pytest.raises(TimeError, match="or epoch milliseconds 221845392000 to 9999999999999$"):
        parse_time(10_000_000_000_000)
    with pytest.raises(TimeError, match="looks like microseconds: divide by 1,000,000"):
        parse_time(1772460000000000)
    with pytest.raises(TimeError, match="looks like nanoseconds"):
        parse_time(1772460000000000000)


def test_a_log_in_epoch_milliseconds_runs(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"type":"customer.message","time":1772445600000,"account":"a","thread_id":"t1"}\n'
        '{"type":"vendor.reply","time":1772449200000,"account":"a","thread_id":"t1"}\n')
    r = cli("run", pb, "--events", str(path))
    assert r.exit_code == 0 and "0 skipped" in r.stderr, r.output
    record = json.loads(r.stdout)
    assert (record["outcome"], record["at"]) == ("met", "2026-03-02T11:00:00Z")


# -- 6. several --events sources -------------------------------------------------------------

CRM = [
    {"type": "customer.message", "time": "2026-03-02T10:00:00Z", "account": "a", "thread_id": "t1", "src": "crm"},
    {"type": "customer.message", "time": "2026-03-02T12:00:00Z", "account": "b", "thread_id": "t2", "src": "crm"},
]
DESK_CSV = ("type,time,account,thread_id,src\n"
            "vendor.reply,2026-03-02T12:00:00Z,b,t2,desk\n"     # at the same time as crm's trigger: after it
            "vendor.reply,2026-03-02T11:00:00Z,a,t1,desk\n")


def two_sources(tmp_path: Path, desk_suffix: str = ".csv") -> tuple[Path, Path]:
    crm = tmp_path / "crm.jsonl"
    crm.write_text("".join(json.dumps(e) + "\n" for e in CRM))
    desk = tmp_path / f"desk{desk_suffix}"
    if desk_suffix == ".csv":
        desk.write_text(DESK_CSV)
    else:
        rows = [line.split(",") for line in DESK_CSV.splitlines()]
        desk.write_text("".join(json.dumps(dict(zip(rows[0], r, strict=True))) + "\n" for r in rows[1:]))
    return crm, desk


@pytest.mark.parametrize("desk_suffix", [".csv", ".jsonl"])  # read whole and sorted / each streamed and merged
@pytest.mark.parametrize("db", [False, True])
def test_several_event_sources_are_merged_in_time_order(pb: str, tmp_path: Path, desk_suffix: str, db: bool) -> None:
    crm, desk = two_sources(tmp_path, desk_suffix)
    extra = ["--db", str(tmp_path / "s.db")] if db else []
    r = cli("run", pb, "--events", str(crm), "--events", str(desk), *extra)
    assert r.exit_code == 0, r.output
    assert "4 read, 4 processed" in r.stderr
    outcomes = sorted((a["key"], a["outcome"]) for a in map(json.loads, r.stdout.splitlines()))
    # b's reply at the trigger's time comes after it (crm was given first): met, not ignored.
    assert outcomes == [("a", "met"), ("b", "met")]
    # Given the other way round, b's reply comes first (before any trigger): b's obligation stays open.
    if not db:
        r = cli("run", pb, "--events", str(desk), "--events", str(crm))
        assert [a["key"] for a in map(json.loads, r.stdout.splitlines())] == ["a"], r.output


def test_event_sources_that_cannot_be_merged_are_refused(pb: str, tmp_path: Path) -> None:
    crm, desk = two_sources(tmp_path)
    r = cli("run", pb, "--events", "-", "--events", "-", input="")
    assert r.exit_code == 2 and "stdin can be read only once" in r.output
    r = cli("run", pb, "--events", "db", "--events", str(crm), "--db", str(tmp_path / "s.db"))
    assert r.exit_code == 2 and "give it alone" in r.output
    r = cli("run", pb, "--events", str(crm), "--events", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 2 and "missing.jsonl: no such file" in r.output


def test_explain_reads_several_sources(pb: str, tmp_path: Path) -> None:
    crm, desk = two_sources(tmp_path)
    r = cli("explain", pb, "--events", str(crm), "--events", str(desk), "--rule", "ack", "--key", "b")
    assert r.exit_code == 0 and "met" in r.stdout, r.output


def test_the_python_api_merges_sources(tmp_path: Path) -> None:
    from engine.sources import read_sources

    crm, desk = two_sources(tmp_path, ".jsonl")
    engine = Engine(load_playbook_text(PLAYBOOK, "p.yaml"))
    batch = [(a.key, a.outcome) for a in engine.run(read_sources([str(crm), str(desk)]))]
    streaming = Engine(load_playbook_text(PLAYBOOK, "p.yaml"))
    streamed = [(a.key, a.outcome) for a in streaming.stream(streaming.ordered_events([str(crm), str(desk)]))]
    assert batch == streamed == [("a", "met"), ("b", "met")]


# -- 7. damaged input that can still be read: counted, refused by --strict -----------------------

DAMAGED_JSONL = (b'{"type":"customer.message","time":"2026-03-02T10:00:00Z","account":"a\xff","thread_id":"t1"}\n'
                 b'{"type":"customer.message","time":"2026-03-02T10:00:00Z","account":"a\xfe","thread_id":"t1"}\n'
                 b'{"type":"m","time":"2026-03-02T11:00:00Z","account":"a","account":"b"}\n'
                 b'{"type":"m","time":"2026-03-02T12:00:00Z","account":"a","n":NaN}\n'
                 b'{"type":"m","time":"2026-03-02T13:00:00Z","account":"a","n":-Infinity}\n'
                 b'{"type":"m","time":"2026-03-02T14:00:00Z","account":"a","note":"a\\u003ab"}\n')


@pytest.mark.parametrize("how", ["file", "unordered", "stdin", "db"])
def test_damaged_json_lines_are_counted_with_a_place(pb: str, tmp_path: Path, how: str) -> None:
    path = tmp_path / "e.jsonl"
    lines = DAMAGED_JSONL.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[::-1]) if how == "unordered" else DAMAGED_JSONL)
    args = ["--events", "-"] if how == "stdin" else ["--events", str(path)]
    if how == "db":
        args += ["--db", str(tmp_path / "s.db")]
    r = cli("run", pb, *args, input=DAMAGED_JSONL if how == "stdin" else None)
    assert r.exit_code == 0, r.output
    name = "<stdin>" if how == "stdin" else "e.jsonl"
    line = {n: (7 - n if how == "unordered" else n) for n in range(1, 7)}
    assert "read from damaged input (invalid UTF-8): 2" in r.stderr
    assert f"{name}:{line[1]}: invalid UTF-8: byte 0xff at column 70" in r.stderr
    assert "read from damaged input (duplicate key): 1" in r.stderr
    assert f"{name}:{line[3]}: duplicate key: 'account' is given more than once" in r.stderr
    assert "read from damaged input (NaN or Infinity): 2" in r.stderr
    assert f"{name}:{line[5]}: NaN or Infinity: -Infinity" in r.stderr
    assert "6 read, 6 processed, 0 skipped" in r.stderr  # processed, not lost (an escaped colon is no duplicate)
    strict = cli("run", pb, *args, "--strict", input=DAMAGED_JSONL if how == "stdin" else None)
    assert strict.exit_code == 1 and f"{name}:" in strict.stderr and "(--strict)" in strict.stderr, strict.output


def test_damaged_csv_is_counted_with_a_place(pb: str, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"type,time,account,note,account,n.x,n\n"
                     b"m,2026-03-02T10:00:00Z,a,x\xfe,b,,\n"
                     b"m,2026-03-02T11:00:00Z,a,y,,1,2\n"
                     b"m,2026-03-02T12:00:00Z,a,z,,,\n")
    r = cli("run", pb, "--events", str(path))
    assert r.exit_code == 0, r.output
    assert "read from damaged input (duplicate CSV column): 2" in r.stderr
    assert "e.csv:2: duplicate CSV column: 'account'" in r.stderr and "e.csv:3: duplicate CSV column: 'n'" in r.stderr
    assert "read from damaged input (invalid UTF-8): 1" in r.stderr and "e.csv:2: invalid UTF-8: byte 0xfe" in r.stderr
    strict = cli("run", pb, "--events", str(path), "--strict")
    assert strict.exit_code == 1 and "e.csv:2:" in strict.stderr


def test_damaged_input_through_the_api_and_ingest(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(DAMAGED_JSONL)
    engine = Engine(load_playbook_text(PLAYBOOK, "p.yaml"))
    engine.run(read_events(str(path)))
    assert {k: p.count for k, p in engine.summary.input_warnings.items()} == {
        "invalid UTF-8": 2, "duplicate key": 1, "NaN or Infinity": 2}
    assert engine.summary.to_dict()["input_warnings"]["duplicate key"]["samples"][0][0].endswith("e.jsonl:3")
    r = cli("ingest", str(path), "--db", str(tmp_path / "i.db"))
    assert r.exit_code == 0 and "5 problems in the input" in r.stderr and "e.jsonl:3: duplicate key" in r.stderr


# -- 8. --strict stops at any skipped event; the counts add up -----------------------------------

INVALID_KEY = "\n".join([
    ev("2026-03-02T10:00:00Z"),
    json.dumps({"type": "vendor.reply", "time": "2026-03-02T11:00:00Z", "account": {"id": "a"}, "thread_id": "t1"}),
    ev("2026-03-02T12:00:00Z", "vendor.reply"),
]) + "\n"


@pytest.mark.parametrize("db", [False, True])
def test_an_invalid_key_is_skipped_once_and_stops_strict(pb: str, tmp_path: Path, db: bool) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(INVALID_KEY)
    extra = ["--db", str(tmp_path / "s.db")] if db else []
    r = cli("run", pb, "--events", str(path), *extra)
    assert r.exit_code == 0, r.output
    assert "3 read, 2 processed, 1 skipped" in r.stderr
    assert "e.jsonl:2: invalid key: the key field 'account' must be a string or a finite number, got {'id': 'a'}" in r.stderr
    assert '"outcome":"met"' in r.stdout  # the valid reply after it still counts
    strict = cli("run", pb, "--events", str(path), "--strict", *(["--db", str(tmp_path / "t.db")] if db else []))
    assert strict.exit_code == 1, strict.output
    assert "error: " in strict.stderr and "e.jsonl:2: invalid key" in strict.stderr


def test_counts_add_up_with_playbooks_that_read_events_differently(tmp_path: Path) -> None:
    other = PLAYBOOK.replace("playbook: p", "playbook: q\ntimezone: Europe/Paris")
    engine = Engine([load_playbook_text(PLAYBOOK, "p.yaml"), load_playbook_text(other, "q.yaml")])
    events = [json.loads(line) for line in INVALID_KEY.splitlines()]
    events.append(json.loads(ev("2026-03-05T00:00:00Z")))
    engine.run(events, until="2026-03-03T00:00:00Z")
    s = engine.summary
    assert (s.events_read, s.events_processed, s.skipped_total, s.after_until) == (4, 2, 1, 1)
    with pytest.raises(Exception, match="invalid key"):
        Engine(load_playbook_text(PLAYBOOK, "p.yaml"), strict=True).run(events)
