"""playbook: a rule engine for customer-success playbooks, in event time.

The public API::

    from engine import Engine, load_playbook, read_events

    playbook = load_playbook("playbooks/us-retention.yaml")
    engine = Engine([playbook])
    for action in engine.run(read_events("examples/events.jsonl")):
        print(action.to_json())

An export in another shape (a help desk's CSV, a warehouse's Parquet) is read through a
declared source mapping: ``read_mapped(load_source("sources/zendesk-ticket-events.yaml"), "export.csv")``
(docs/sources.md).

A service that feeds events one by one (``Engine.feed``) should read
docs/embedding.md: duplicate ids (``dedupe``), late and out-of-order events
(``allowed_lateness`` / ``reorder_window``, ``flush``) and times far in the
future (``max_future``).
"""

from .actions import Action, EventRef
from .compiler import load_playbook, load_playbook_text
from .engine import Engine
from .errors import Diagnostic, EngineError, EventError, PlaybookError, UsageError
from .model import Playbook
from .sources import SourceEvent, load_source, read_events, read_mapped
from .summary import RunSummary

__all__ = [
    "Action",
    "Diagnostic",
    "Engine",
    "EngineError",
    "EventError",
    "EventRef",
    "Playbook",
    "PlaybookError",
    "RunSummary",
    "SourceEvent",
    "UsageError",
    "load_playbook",
    "load_playbook_text",
    "load_source",
    "read_events",
    "read_mapped",
]

__version__ = "0.1.0"
