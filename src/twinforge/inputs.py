"""Bounded reading of every input file: twin specs, scenarios, states, events, jobs, mappings, examples.

Every file argument goes through here, so a hostile or broken file gets a clear :class:`SpecError`
naming the file (and the line when there is one) instead of a hang or a traceback:

- a file larger than :data:`MAX_FILE_BYTES` is refused before it is read;
- bytes are checked before they are decoded: a NUL byte means a binary file, and anything that is
  not UTF-8 is refused with the line and byte where decoding failed (a UTF-8 byte-order mark is
  allowed and dropped);
- YAML is composed with :class:`BoundedLoader`, a ``SafeLoader`` that refuses nesting deeper than
  :data:`MAX_DEPTH` collections, aliases that would add more than :data:`MAX_ALIAS_NODES` nodes in
  total when expanded (the "billion laughs"), recursive aliases, and tags other than plain data
  (``!!python/...``, ``!!binary``, ``!!set``, custom ``!tags``);
- JSON is held to the same depth.

Values that cannot be built (a date such as ``2024-13-01``, an integer with thousands of digits, an
unhashable key) are reported with their line as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from twinforge.errors import Issue, SpecError

#: Largest input file read, in bytes (10 MiB: far above any twin, scenario or mapping).
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Deepest nesting of mappings and lists in a YAML or JSON input.
MAX_DEPTH = 64
#: Nodes that aliases (``*name``) may add to a YAML document in total once expanded.
MAX_ALIAS_NODES = 100_000

_CORE = "tag:yaml.org,2002:"
#: Tags read: YAML's plain data (``<<`` merge keys and dates included), nothing that builds objects.
ALLOWED_TAGS = frozenset(
    _CORE + t for t in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp", "merge", "value")
)


class _Refused(yaml.MarkedYAMLError):
    """A YAML document beyond the loader's bounds (raised while composing, reported with its line)."""

    def __init__(self, problem: str, mark: Any, code: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.code = code


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


class BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` with bounds on depth, alias expansion and tags (see the module docstring).

    It keeps, for every composed node, how many nodes it stands for once aliases are expanded and
    how deep it is, so an alias's cost is known when it is used — before anything is expanded.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._alias_nodes = 0
        self._size: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, nesting height)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:
                self._count_alias(event, target)
            return super().compose_node(parent, index)
        collection = isinstance(event, SequenceStartEvent | MappingStartEvent)
        if collection:
            if self._depth >= MAX_DEPTH:
                raise _Refused(
                    f"nesting deeper than {MAX_DEPTH} levels of mappings and lists",
                    event.start_mark,
                    "too-deep",
                )
            self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            if collection:
                self._depth -= 1
        if node.tag not in ALLOWED_TAGS:
            raise _Refused(
                f"unsupported YAML tag {_tag_name(node.tag)!r}: only plain data is read "
                "(mappings, lists, strings, numbers, booleans, dates, null)",
                node.start_mark,
                "unsupported-tag",
            )
        self._size[id(node)] = self._measure(node)
        return node

    def _measure(self, node: Node) -> tuple[int, int]:
        if isinstance(node, ScalarNode):
            return (1, 0)
        if isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = list(node.value)
        size, height = 1, 0
        for child in children:
            s, h = self._size[id(child)]
            size += s
            height = max(height, h)
        return (size, height + 1)

    def _count_alias(self, event: AliasEvent, target: Node) -> None:
        known = self._size.get(id(target))
        if known is None:
            raise _Refused(
                f"alias *{event.anchor} refers to the mapping or list that contains it (a recursive alias)",
                event.start_mark,
                "recursive-alias",
            )
        size, height = known
        if self._depth + height > MAX_DEPTH:
            raise _Refused(
                f"alias *{event.anchor} nests deeper than {MAX_DEPTH} levels of mappings and lists",
                event.start_mark,
                "too-deep",
            )
        self._alias_nodes += size
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise _Refused(
                f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?); "
                "write the repeated parts out or use fewer aliases",
                event.start_mark,
                "alias-limit",
            )

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, TypeError) as exc:
            raise _Refused(f"cannot read value {node.value!r}: {exc}", node.start_mark, "bad-value") from None


# ``=`` alone resolves to the ``value`` tag, which SafeLoader cannot construct: read it as a string.
BoundedLoader.add_constructor(_CORE + "value", yaml.SafeLoader.construct_yaml_str)


def _fail(file: str, message: str, *, line: int | None = None, code: str, what: str) -> SpecError:
    return SpecError([Issue(message=message, file=file, line=line, code=code)], summary=f"cannot read {what}")


def _yaml_error(exc: yaml.YAMLError, file: str, what: str) -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, _Refused):
        return _fail(file, exc.problem or str(exc), line=line, code=exc.code, what=what)
    problem = getattr(exc, "problem", None) or str(exc)
    return _fail(file, f"malformed YAML: {problem}", line=line, code="syntax", what=what)


# -- bytes to text --------------------------------------------------------------------------------


def decode(data: bytes, file: str, what: str = "file") -> str:
    """UTF-8 text from bytes, refusing binary data and invalid UTF-8 with the line where it fails."""
    if len(data) > MAX_FILE_BYTES:
        raise _fail(
            file,
            f"file is {len(data):,} bytes; input files are limited to {MAX_FILE_BYTES:,} bytes",
            code="too-large",
            what=what,
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _fail(
            file,
            f"binary data, not text (a NUL byte at byte {nul}); expected a UTF-8 YAML or JSON file",
            line=data.count(b"\n", 0, nul) + 1,
            code="binary",
            what=what,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(
            file,
            f"not UTF-8 text (a binary file?): byte 0x{data[exc.start]:02x} at byte {exc.start} "
            "cannot be decoded; save text files as UTF-8",
            line=data.count(b"\n", 0, exc.start) + 1,
            code="encoding",
            what=what,
        ) from None
    return text.removeprefix("\ufeff")


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of an input file, bounded in size and refused when binary or not UTF-8."""
    p = Path(path)
    file = str(path)
    what = f"{what} {file}"
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _fail(file, "file not found", code="io", what=what) from None
    except IsADirectoryError:
        raise _fail(file, "is a folder, not a file", code="io", what=what) from None
    except OSError as exc:
        raise _fail(file, f"cannot read file: {exc.strerror or exc}", code="io", what=what) from None
    if len(data) > MAX_FILE_BYTES:
        raise _fail(
            file,
            f"file is larger than the {MAX_FILE_BYTES:,}-byte limit for input files",
            code="too-large",
            what=what,
        )
    return decode(data, file, what)


# -- text to data ---------------------------------------------------------------------------------


@dataclass
class YamlDocument:
    """A parsed YAML document: its data and its node tree (for line numbers)."""

    data: Any
    root: Node | None


def parse_yaml(text: str, file: str = "<string>", what: str | None = None) -> YamlDocument:
    """Compose and construct one YAML document within the loader's bounds."""
    what = what or file
    if len(text) > MAX_FILE_BYTES:
        raise _fail(file, f"text longer than {MAX_FILE_BYTES:,} characters", code="too-large", what=what)
    loader = None
    try:
        loader = BoundedLoader(text)  # its reader refuses control characters here
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise _fail(
            file,
            f"character U+{exc.character:04X} is not allowed in YAML (a control character; is it a binary file?)",
            line=line,
            code="syntax",
            what=what,
        ) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, what) from None
    except RecursionError:  # not expected within MAX_DEPTH; never a traceback all the same
        raise _fail(file, "nesting too deep to read", code="too-deep", what=what) from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(data, root)


def load_yaml(text: str, file: str = "<string>", what: str | None = None) -> Any:
    """The data of one YAML document within the loader's bounds."""
    return parse_yaml(text, file, what).data


def load_json(text: str, file: str = "<string>", what: str | None = None) -> Any:
    """JSON data, held to :data:`MAX_DEPTH` like YAML."""
    what = what or file
    if len(text) > MAX_FILE_BYTES:
        raise _fail(file, f"text longer than {MAX_FILE_BYTES:,} characters", code="too-large", what=what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(file, f"malformed JSON: {exc.msg}", line=exc.lineno, code="syntax", what=what) from None
    except RecursionError:
        raise _fail(
            file, f"nesting deeper than {MAX_DEPTH} levels of objects and arrays", code="too-deep", what=what
        ) from None
    if _depth(data) > MAX_DEPTH:
        raise _fail(
            file, f"nesting deeper than {MAX_DEPTH} levels of objects and arrays", code="too-deep", what=what
        )
    return data


def _depth(data: Any) -> int:
    deepest = 0
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            stack.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """The data of a YAML file (JSON files, being YAML, read as well), within every bound above."""
    file = str(path)
    return load_yaml(read_text(path, what), file, what=f"{what} {file}")
