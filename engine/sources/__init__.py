"""Event sources: the file readers (:mod:`.readers`), and mappings from exports onto events
(:mod:`.mapping`): a declared source file says how a CSV, JSON Lines or Parquet record
becomes an event.

Every name other modules import from ``engine.sources`` is re-exported here.
"""

from .mapping import MappedEvents, MappingCounts, Source, load_source, load_source_text, read_mapped
from .readers import (
    FORMATS,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_LINE_BYTES,
    LineProblem,
    SourceEvent,
    bounded_lines,
    check_max_line_bytes,
    csv_value,
    detect_format,
    event_problem,
    merge_ordered,
    open_binary,
    open_text,
    parse_json_line,
    read_csv,
    read_csv_binary,
    read_events,
    read_jsonl,
    read_jsonl_binary,
    read_sources,
    time_ordered,
    value_problem,
)

__all__ = [
    "FORMATS",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_LINE_BYTES",
    "LineProblem",
    "MappedEvents",
    "MappingCounts",
    "Source",
    "SourceEvent",
    "bounded_lines",
    "check_max_line_bytes",
    "csv_value",
    "detect_format",
    "load_source",
    "load_source_text",
    "event_problem",
    "merge_ordered",
    "open_binary",
    "open_text",
    "parse_json_line",
    "read_csv",
    "read_csv_binary",
    "read_events",
    "read_jsonl",
    "read_jsonl_binary",
    "read_mapped",
    "read_sources",
    "time_ordered",
    "value_problem",
]
