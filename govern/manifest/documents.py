"""Reading YAML/JSON documents with the position of every field, so errors can point at line:col."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from govern.errors import InputError, Problem

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loading with YAML 1.2 booleans: only true/false, so `on:` or `no` stay strings (the Norway problem)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

Model = TypeVar("Model", bound=BaseModel)
Locations = dict[str, tuple[int, int]]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

MAX_DEPTH = 64
"""Deepest nesting of a manifest or request body (a real one needs fewer than ten levels); deeper is refused
before anything is built from it, since every later step walks the document."""


@dataclass(frozen=True)
class Document:
    """One YAML/JSON document of a file, with where each field of it stands."""

    source: str
    index: int
    data: Any
    locations: Locations = field(repr=False)
    error: InputError | None = None
    """Why this document cannot be used (only from `parse_documents(keep_going=True)`)."""

    @property
    def kind(self) -> str | None:
        return self.data.get("kind") if isinstance(self.data, dict) else None

    def validate(self, model: type[Model]) -> Model:
        """Validate against a model; every error names its field and line:col."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise InputError(self.source, [self._problem(err) for err in exc.errors()]) from None

    def _problem(self, error: Any) -> Problem:
        path = dotted(error["loc"])
        line, column = self.locate(path)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling; unknown fields are not allowed)"
        return Problem(message=message, field=path or "(document)", line=line, column=column)

    def locate(self, path: str) -> tuple[int, int]:
        return locate(self.locations, path)


def locate(locations: Locations, path: str) -> tuple[int, int]:
    """Line and column (1-based) of a dotted path such as `spec.datasets[1]`, or of its nearest parent."""
    while path not in locations and path:
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return locations.get(path, (1, 1))


def dotted(loc: tuple[Any, ...]) -> str:
    """('spec', 'datasets', 0, 'name') -> 'spec.datasets[0].name' (pydantic's union tags are dropped)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and not _is_union_tag(part):
            path = f"{path}.{part}" if path else part
    return path


def _is_union_tag(part: str) -> bool:
    return part.startswith(("literal[", "function-")) or part in {"QueueThreshold", "PendingJobsThreshold", "str", "dict[str,any]"}


def read_text(path: Path, max_bytes: int) -> str:
    """Read a user file, refusing oversized or non-UTF-8 input with a clear error."""
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(source, f"cannot read file: {exc.strerror}") from None
    if size > max_bytes:
        raise InputError(source, f"file is {size} bytes, over the {max_bytes}-byte limit")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(source, f"cannot read file: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = locate_byte(data, exc.start)
        raise InputError(source, Problem(f"file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded", line=line, column=column)) from None


def locate_byte(data: bytes, offset: int) -> tuple[int, int]:
    """Line and column (1-based, in characters) of a byte offset, for an undecodable byte."""
    line = data.count(b"\n", 0, offset) + 1
    line_start = data.rfind(b"\n", 0, offset) + 1
    return line, len(data[line_start:offset].decode("utf-8", errors="replace")) + 1


def parse_documents(text: str, source: str, *, keep_going: bool = False) -> list[Document]:
    """Every document of a YAML (or JSON) stream, with field positions; syntax errors name line:col.

    With `keep_going`, a document that is well-formed YAML but cannot be used (too deep, a duplicate key, an
    alias, a value the constructor cannot build) comes back as a Document holding its error, and the
    documents after it are still read; a syntax error still ends the stream, which cannot be read past it."""
    loader = _Loader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            try:
                documents.append(_document(loader, node, source, len(documents)))
            except InputError as exc:
                if not keep_going:
                    raise
                documents.append(Document(source, len(documents), None, {}, error=exc))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = f"{exc.problem or exc.context or 'malformed YAML/JSON'}"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise InputError(source, Problem(f"malformed YAML/JSON: {problem}", line=line, column=column)) from None
    except yaml.YAMLError as exc:
        raise InputError(source, f"malformed YAML/JSON: {exc}") from None
    except RecursionError:
        raise InputError(source, "document is nested too deeply") from None
    finally:
        loader.dispose()
    return documents


def _document(loader: yaml.BaseLoader, node: yaml.Node, source: str, index: int) -> Document:
    locations: Locations = {}
    _collect_locations(node, "", locations, source, set())
    try:
        data = loader.construct_document(node)
    except (ValueError, TypeError, OverflowError) as exc:  # a value the constructor cannot build: 2026-02-30, say
        mark = node.start_mark
        raise InputError(source, Problem(f"malformed YAML/JSON: {exc}", line=mark.line + 1, column=mark.column + 1)) from None
    return Document(source, index, data, locations)


def _collect_locations(node: yaml.Node, path: str, locations: Locations, source: str, seen_nodes: set[int], depth: int = 0) -> None:
    """Record where every field starts; refuse duplicate keys, aliases (an alias bomb would otherwise expand
    exponentially in every later step) and nesting deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise InputError(
            source, Problem(f"nested deeper than {MAX_DEPTH} levels", path, node.start_mark.line + 1, node.start_mark.column + 1)
        )
    if id(node) in seen_nodes:
        raise InputError(
            source,
            Problem("YAML anchors and aliases are not allowed in manifests", path, node.start_mark.line + 1, node.start_mark.column + 1),
        )
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        seen_nodes.add(id(node))
    locations[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in seen:
                raise InputError(
                    source,
                    Problem(
                        "duplicate key (the earlier value would be silently ignored)",
                        field=child,
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                    ),
                )
            seen.add(key)
            _collect_locations(value_node, child, locations, source, seen_nodes, depth + 1)
            locations[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_locations(item, f"{path}[{index}]", locations, source, seen_nodes, depth + 1)


def load_documents(path: Path, max_bytes: int) -> list[Document]:
    return parse_documents(read_text(path, max_bytes), str(path))


def load_one(path: Path, model: type[Model], kind: str, max_bytes: int) -> Model:
    """A file that must hold exactly one document of the given kind (a context file, say)."""
    documents = [d for d in load_documents(path, max_bytes) if d.data is not None]
    if len(documents) != 1 or documents[0].kind != kind:
        raise InputError(str(path), f"expected exactly one document of kind {kind!r}")
    return documents[0].validate(model)
