"""Reads YAML written by people, refusing what would crash, hang or silently mislead a plan.

PyYAML's ``safe_load`` keeps the last of two duplicate keys (so a typo'd second ``slo:`` wins
silently), recurses once per nesting level, and shares aliased nodes, which a validator then walks
as if expanded (a "billion laughs" document of a few hundred bytes expands to 10**9 values). This
reader refuses duplicate keys, caps size, nesting depth and expanded size, and reports every failure
as one bounded message (never the whole input) through :class:`YamlInputError`.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_VALUES", "YamlInputError", "bounded", "load_yaml_file", "load_yaml_text"]

MAX_BYTES = 1 << 20
"""Largest file read (1 MiB): a profile or stack config is a few kilobytes."""
MAX_DEPTH = 32
"""Deepest nesting accepted; real profiles nest four levels."""
MAX_VALUES = 100_000
"""Most values a document may expand to, counting every alias as a full copy."""

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxdict = _repr.maxtuple = _repr.maxset = 4
_repr.maxlevel = 2


def bounded(value: Any) -> str:
    """A short ``repr`` of a value for error messages: long strings and deep structures are elided."""
    return _repr.repr(value)


class YamlInputError(ValueError):
    """The text is not YAML this project accepts; ``str()`` is one short line."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys and keys that are not plain scalars."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise YamlInputError(f"line {node.start_mark.line + 1}: expected a mapping")
        # Keys written in this mapping must be unique; keys merged in (``<<: *base``) yield to them,
        # and among merged keys the first source wins, as YAML's merge rules say.
        written = {id(key) for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"}
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise YamlInputError(f"line {key_node.start_mark.line + 1}: a mapping key must be a plain value")
            key = self.construct_object(key_node, deep=deep)
            if id(key_node) in written:
                if key in seen:
                    raise YamlInputError(f"line {key_node.start_mark.line + 1}: duplicate key {bounded(key)}")
                seen.add(key)
                mapping[key] = self.construct_object(value_node, deep=deep)
            elif key not in mapping:
                mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


_StrictLoader.add_constructor("tag:yaml.org,2002:map", _StrictLoader.construct_mapping)

# Plain scalars resolve as YAML 1.2's core schema does (and go-yaml v3, which the Pulumi CLI reads
# stack files with): only true/false are booleans, decimal digits are integers, and `yes`, `on`,
# `1:30`, `017` or `2024-01-01` stay what they look like to a person: text, or the number 17.
_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT, "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StrictLoader.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
    ),
    list("-+0123456789."),
)


def _decimal(loader: yaml.SafeLoader, node: Node) -> int:
    """A YAML 1.2 core integer: decimal, so a leading zero is not octal."""
    if not isinstance(node, ScalarNode):
        raise YamlInputError(f"line {node.start_mark.line + 1}: expected an integer")
    return int(loader.construct_scalar(node))


_StrictLoader.add_constructor(_INT, _decimal)


def _unsupported(loader: yaml.SafeLoader, node: Node) -> Any:
    raise YamlInputError(f"line {node.start_mark.line + 1}: the {node.tag} tag is not supported here")


for _tag in ("binary", "set", "omap", "pairs", "timestamp"):
    _StrictLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _unsupported)


def _check_shape(root: Node) -> None:
    """Refuses documents nested deeper than MAX_DEPTH or expanding to more than MAX_VALUES values."""
    sizes: dict[int, int] = {}
    # Post-order walk without recursion; aliases are the same node object, so memoising by id
    # counts each expansion at the cost of one visit.
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise YamlInputError(f"nested more than {MAX_DEPTH} levels deep")
        children = _children(node)
        if done:
            on_path.discard(id(node))
            sizes[id(node)] = min(MAX_VALUES + 1, 1 + sum(sizes[id(c)] for c in children))
            if sizes[id(node)] > MAX_VALUES:
                raise YamlInputError(f"expands to more than {MAX_VALUES:,} values (aliases are counted in full)")
            continue
        if id(node) in sizes:
            continue
        if id(node) in on_path:
            raise YamlInputError("a value refers to itself through an alias")
        on_path.add(id(node))
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


_FLOW_SYNTAX = re.compile(r"""[\[\]{}'"#\n\\]""")


def _check_flow_depth(text: str) -> None:
    """Refuses deeply nested ``[``/``{`` before parsing: PyYAML's scanner is quadratic in that depth
    (a 1 MiB line of brackets would take hours) and its composer recurses once per level.

    Brackets inside quoted scalars and comments are skipped; elsewhere every bracket counts, so
    the estimate can only err towards refusing documents nobody writes.
    """
    depth = 0
    quote = ""
    comment = False
    for match in _FLOW_SYNTAX.finditer(text):
        char = match.group()
        before = text[match.start() - 1] if match.start() else "\n"
        if comment:
            comment = char != "\n"
        elif quote == "'":
            quote = "" if char == "'" else quote
        elif quote == '"':
            if char == '"' and before != "\\":
                quote = ""
        elif char in "'\"" and before in " \t\n[{,:-":
            quote = char
        elif char == "#" and before in " \t\n":
            comment = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlInputError(f"nested more than {MAX_DEPTH} levels deep")
        elif char in "]}":
            depth = max(0, depth - 1)


def load_yaml_text(text: str) -> Any:
    """Parses one YAML document; raises YamlInputError with a one-line reason."""
    if "\x00" in text:
        raise YamlInputError("contains NUL characters: a binary file, not YAML text")
    _check_flow_depth(text)
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_shape(root)
        return loader.construct_document(root)
    except RecursionError:
        raise YamlInputError(f"nested more than {MAX_DEPTH} levels deep") from None
    except yaml.MarkedYAMLError as exc:
        where = f"line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}: " if exc.problem_mark else ""
        raise YamlInputError(f"not valid YAML: {where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlInputError(f"not valid YAML: {bounded(str(exc))}") from None
    except TypeError as exc:  # e.g. an unhashable value used as a key through a merge
        raise YamlInputError(f"not valid YAML: {bounded(str(exc))}") from None
    except YamlInputError:
        raise
    except ValueError:  # Python refuses to read integers of more than 4,300 digits
        raise YamlInputError("a number too long to read (more than 4,300 digits)") from None
    finally:
        loader.dispose()


def load_yaml_file(path: Path) -> Any:
    """Reads and parses a YAML file of at most MAX_BYTES of UTF-8 text.

    Raises:
        YamlInputError: unreadable, too large, not UTF-8, binary, or not valid YAML (no file name:
            the caller adds it, with the field it was reading).
    """
    try:
        # A FIFO or device would block or never end: only regular files are read.
        special = path.exists() and not path.is_file()
        if not special:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise YamlInputError(f"cannot read the file: {reason}") from None
    if special:
        raise YamlInputError("cannot read the file: not a regular file")
    if len(data) > MAX_BYTES:
        raise YamlInputError(f"larger than {MAX_BYTES // 1024} KiB; a profile or stack config is a few KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlInputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    return load_yaml_text(text.removeprefix("\ufeff"))
