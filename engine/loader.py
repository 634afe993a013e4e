"""Safe YAML loading that keeps a source position for every node.

PyYAML's composer gives a node graph with marks; we build plain Python data
from it ourselves so that we can

* reject duplicate mapping keys (PyYAML silently keeps the last one),
* apply YAML 1.1 merge keys (``<<: *base``, ``<<: [*a, *b]``) with the merged
  values keeping the positions where they are written,
* refuse alias bombs before anything walks the expanded tree,
* keep timestamps as strings (the engine parses times itself), and accept only
  ``true``/``false`` as booleans (YAML 1.2), so ``country: NO`` stays a string,
* remember where every value and every mapping key stands in the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Diagnostic, PlaybookError

Path = tuple[str | int, ...]

#: The most nodes a document may expand to once aliases are followed.
MAX_EXPANDED_NODES = 200_000

#: The largest playbook file read by default (1 MiB, some hundred times the shipped playbook):
#: a larger file is refused before parsing, which would take seconds per megabyte.
MAX_PLAYBOOK_BYTES = 1024 * 1024


class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core-like implicit types: no timestamps, no yes/no/on/off booleans."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0o[0-7_]+)$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
        r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class _Composer(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _Resolver,
):
    def __init__(self, stream: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


_SCALARS = yaml.constructor.SafeConstructor()


@dataclass
class Positions:
    """Where each value (and each mapping key) of a loaded document stands."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # Offset of the expression text inside its scalar (1 for quoted scalars).
    styles: dict[Path, str | None] = field(default_factory=dict)
    # Mapping keys are read as text; a key written as a number, a boolean or null has its
    # YAML value here (a table of cases tells `1:` from `"1":`).
    key_values: dict[Path, Any] = field(default_factory=dict)

    def at(self, path: Path) -> tuple[int, int]:
        """The (line, col) of the value at ``path``, or of its nearest known ancestor."""
        path = tuple(path)
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def key_at(self, path: Path) -> tuple[int, int]:
        """The (line, col) of the mapping key that ends ``path``."""
        path = tuple(path)
        return self.keys.get(path) or self.at(path)

    def alias(self, path: Path, other: Path) -> None:
        """Place ``other`` (and what is under it) where ``path`` stands: a misspelt key
        read as the key meant keeps the positions of what is written."""
        n, path, other = len(path), tuple(path), tuple(other)
        for p in [p for p in self.values if p[:n] == path]:
            self.values.setdefault(other + p[n:], self.values[p])
        for p in [p for p in self.keys if p[:n] == path]:
            self.keys.setdefault(other + p[n:], self.keys[p])
        for p in [p for p in self.styles if p[:n] == path]:
            self.styles.setdefault(other + p[n:], self.styles[p])
        for p in [p for p in self.key_values if p[:n] == path]:
            self.key_values.setdefault(other + p[n:], self.key_values[p])

    def key_value(self, path: Path) -> Any:
        """The mapping key that ends ``path`` as YAML reads it (``1``, ``true``), not as text."""
        path = tuple(path)
        return self.key_values.get(path, path[-1])

    def diag(self, path: Path, message: str, *, key: bool = False, offset: int = 0) -> Diagnostic:
        line, col = self.key_at(path) if key else self.at(path)
        return Diagnostic(self.file, line, col + offset, message)

    def expr_offset(self, path: Path) -> int:
        """How many characters precede the scalar's text (its opening quote)."""
        return 1 if self.styles.get(tuple(path)) in ("'", '"') else 0


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _node_weight(node: yaml.Node) -> int:
    # A long string weighs as much as many small nodes: what is bounded is the
    # size of the expanded document, not only its node count.
    return 1 + (len(node.value) // 64 if isinstance(node, yaml.ScalarNode) else 0)


def _written_size(root: yaml.Node) -> int:
    """Count the nodes as written, each once however many aliases name it."""
    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        total += _node_weight(node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
    return total


def _expanded_size(root: yaml.Node, file: str) -> int:
    """Count nodes as a walk that follows aliases would see them, without walking."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        nid = id(node)
        if nid in sizes:
            return sizes[nid]
        if nid in active:
            line, col = _mark(node)
            raise PlaybookError([Diagnostic(file, line, col, "recursive YAML alias: an anchor may not contain itself")])
        active.add(nid)
        total = _node_weight(node)
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(nid)
        sizes[nid] = total
        return total

    return size(root)


def load_yaml(text: str, file: str = "<string>") -> tuple[Any, Positions]:
    """Parse one YAML document into plain data and the positions of its nodes.

    Raises :class:`PlaybookError` for syntax errors, duplicate keys, several
    documents, and alias bombs.
    """
    positions = Positions(file)
    composer = None
    try:
        composer = _Composer(text)
        root = composer.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if "expected a single document" in str(exc):
            problem = "expected a single YAML document, found several (remove the '---' separator)"
        raise PlaybookError([Diagnostic(file, line, col, f"YAML syntax error: {problem}")]) from None
    except yaml.reader.ReaderError as exc:  # characters YAML does not allow
        line, col = _offset_position(text, exc.position)
        raise PlaybookError([Diagnostic(file, line, col, f"YAML error: character {exc.character!r} is not allowed in YAML")]) from None
    except yaml.YAMLError as exc:
        raise PlaybookError([Diagnostic(file, 1, 1, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise PlaybookError([Diagnostic(file, 1, 1, "YAML nesting too deep")]) from None
    finally:
        if composer is not None:
            composer.dispose()
    if root is None:
        return None, positions
    if _expanded_size(root, file) > MAX_EXPANDED_NODES:
        line, col = _mark(root)
        if _written_size(root) > MAX_EXPANDED_NODES:  # large as written: no alias is to blame
            message = (f"the YAML document has more than {MAX_EXPANDED_NODES:,} nodes (long strings count by size); "
                       "refusing to load it: split it into several playbooks")
        else:
            message = (f"YAML aliases expand the document beyond {MAX_EXPANDED_NODES} nodes (long strings count "
                       "by size); refusing to load (an alias bomb?)")
        raise PlaybookError([Diagnostic(file, line, col, message)])

    errors: list[Diagnostic] = []
    built: dict[int, Any] = {}
    flattened: dict[int, list[tuple[str, yaml.Node, yaml.Node]]] = {}

    def merge_sources(key_node: yaml.Node, value_node: yaml.Node) -> list[yaml.MappingNode]:
        """The mappings a ``<<`` key merges, in order (the earlier wins)."""
        items = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        sources: list[yaml.MappingNode] = []
        for i, item in enumerate(items):
            if isinstance(item, yaml.MappingNode) and item.tag == "tag:yaml.org,2002:map":
                sources.append(item)
                continue
            if isinstance(item, yaml.MappingNode):
                what = f"a {_short_tag(item.tag)}"
            elif isinstance(item, yaml.SequenceNode):
                what = "a list"
            else:
                what = "null" if item.tag == "tag:yaml.org,2002:null" else f"the scalar {item.value!r}"
            where = f"item {i + 1} of its list is " if isinstance(value_node, yaml.SequenceNode) else "not "
            line, col = _mark(key_node)
            errors.append(Diagnostic(file, line, col, (
                "the YAML merge key '<<' takes an anchored mapping or a list of them (`<<: *defaults`, "
                f"`<<: [*a, *b]`), {where}{what}")))
        return sources

    def entries(node: yaml.MappingNode) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """A mapping's (key, key node, value node) once merge keys are applied (YAML 1.1:
        explicit keys win over merged ones; among merged mappings the earlier wins).
        Computed (and its errors reported) once per node, however often it is aliased."""
        nid = id(node)
        if nid in flattened:
            return flattened[nid]
        flattened[nid] = []  # recursion was refused by _expanded_size; this only guards
        explicit: dict[str, yaml.Node] = {}
        merge_key: yaml.Node | None = None
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                if merge_key is not None:
                    line, col = _mark(key_node)
                    errors.append(Diagnostic(file, line, col, (
                        f"duplicate key '<<' (first defined at line {_mark(merge_key)[0]}): merge several "
                        "mappings with one list, `<<: [*a, *b]`")))
                else:
                    merge_key = key_node
            elif not isinstance(key_node, yaml.ScalarNode):
                line, col = _mark(key_node)
                errors.append(Diagnostic(file, line, col, "mapping keys must be plain strings"))
            elif key_node.value in explicit:
                line, col = _mark(key_node)
                first = _mark(explicit[key_node.value])
                errors.append(Diagnostic(file, line, col, f"duplicate key {key_node.value!r} (first defined at line {first[0]})"))
            else:
                explicit[key_node.value] = key_node
        out: list[tuple[str, yaml.Node, yaml.Node]] = []
        taken: set[str] = set()
        for key_node, value_node in node.value:
            if merge_key is not None and key_node is merge_key:
                for source in merge_sources(key_node, value_node):
                    for key, source_key, source_value in entries(source):
                        if key not in explicit and key not in taken:
                            taken.add(key)
                            out.append((key, source_key, source_value))
            elif isinstance(key_node, yaml.ScalarNode) and explicit.get(key_node.value) is key_node:
                taken.add(key_node.value)
                out.append((key_node.value, key_node, value_node))
        flattened[nid] = out
        return out

    def place(node: yaml.Node, path: Path) -> None:
        """Record the positions of a node met again through an alias, under its new path."""
        positions.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            positions.styles.setdefault(path, node.style)
        elif isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                place(child, path + (i,))
        elif isinstance(node, yaml.MappingNode):
            for key, key_node, value_node in entries(node):
                positions.keys.setdefault(path + (key,), _mark(key_node))
                typed_key(key_node, path + (key,))
                place(value_node, path + (key,))

    def typed_key(key_node: yaml.Node, path: Path) -> None:
        if key_node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                            "tag:yaml.org,2002:null"):
            with contextlib.suppress(yaml.YAMLError, ValueError):
                positions.key_values.setdefault(path, _SCALARS.construct_object(key_node))

    def build(node: yaml.Node, path: Path) -> Any:
        positions.values.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            positions.styles.setdefault(path, node.style)
            if node.tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                            "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"):
                if node.tag == "tag:yaml.org,2002:str":
                    return node.value
                try:
                    return _SCALARS.construct_object(node)
                except (yaml.YAMLError, ValueError):
                    return node.value
            if node.tag == "tag:yaml.org,2002:timestamp":
                return node.value  # times stay text: the engine parses them itself
            line, col = _mark(node)
            errors.append(Diagnostic(file, line, col, f"unsupported YAML tag {_short_tag(node.tag)!r}: playbooks use plain YAML values"))
            return node.value
        nid = id(node)
        if nid in built:  # an alias: share the already built value, positions where it is written
            place(node, path)
            return built[nid]
        if node.tag not in ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
            line, col = _mark(node)
            errors.append(Diagnostic(file, line, col, f"unsupported YAML tag {_short_tag(node.tag)!r}: playbooks use plain YAML values"))
        if isinstance(node, yaml.SequenceNode):
            items: list[Any] = []
            built[nid] = items
            for i, child in enumerate(node.value):
                items.append(build(child, path + (i,)))
            return items
        if isinstance(node, yaml.MappingNode):
            mapping: dict[str, Any] = {}
            built[nid] = mapping
            for key, key_node, value_node in entries(node):
                kpath = path + (key,)
                positions.keys.setdefault(kpath, _mark(key_node))
                typed_key(key_node, kpath)
                mapping[key] = build(value_node, kpath)
            return mapping
        return None

    data = build(root, ())
    if errors:
        raise PlaybookError(errors)
    return data, positions


def load_yaml_file(path: str, display: str | None = None, max_bytes: int | None = None) -> tuple[Any, Positions]:
    """Read and parse a YAML file; unreadable files (or, with ``max_bytes``, larger
    ones) become a :class:`PlaybookError`."""
    name = display or path
    return load_yaml(read_yaml_file(path, name, max_bytes)[0], name)


def read_yaml_file(path: str, name: str, max_bytes: int | None = None) -> tuple[str, str]:
    """A YAML file's text (newlines as Python's text files read them) and the SHA-256
    of its bytes, from one read; unreadable files become a :class:`PlaybookError`.

    A file of more than ``max_bytes`` bytes (None: no limit) is refused without being
    read whole (reading stops one byte past the limit)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
            if max_bytes is not None and len(raw) > max_bytes:
                size = os.fstat(fh.fileno()).st_size
                big = f"{size:,} bytes" if size > max_bytes else f"more than {max_bytes:,} bytes"
                raise PlaybookError([Diagnostic(name, 0, 0, (
                    f"the file is {big}, over the limit of {max_bytes:,} bytes for a playbook; refusing to parse it "
                    "(raise the limit with --max-playbook-bytes, or max_bytes= of load_playbook)"))])
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise PlaybookError([Diagnostic(name, 0, 0, "file not found")]) from None
    except IsADirectoryError:
        raise PlaybookError([Diagnostic(name, 0, 0, "is a directory, not a YAML file")]) from None
    except UnicodeDecodeError as exc:
        raise PlaybookError([Diagnostic(name, 0, 0, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise PlaybookError([Diagnostic(name, 0, 0, f"cannot read: {exc.strerror}")]) from None
    if "\r" in text:  # universal newlines, as open(path, encoding="utf-8") reads them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, hashlib.sha256(raw).hexdigest()
