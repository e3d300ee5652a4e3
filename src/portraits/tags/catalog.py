"""The tag set of a workspace: the standard library, the workspace's own tags, checked.

Standard tags ship in ``portraits/tags/library/*.yaml``. A workspace's ``tags/*.yaml``
adds tags, replaces a standard tag by using its id, or switches standard tags off
(``disable: [night_owl]``). Before anything runs, every condition is parsed and checked
against the fields it may read (profile, RFM and the other tags), tags are put in
dependency order, and every problem is reported at once with file, line and a hint.
"""

from __future__ import annotations

import functools
import graphlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError

from portraits.errors import Problem, SpecError, did_you_mean
from portraits.tags import expr
from portraits.tags.spec import (
    BucketTag,
    Case,
    Level,
    Names,
    Range,
    RuleTag,
    ScoreTag,
    TagFile,
    TagSpec,
    Term,
    TopTag,
)
from portraits.workspace.loader import line_of

LIBRARY: Final = "library"
_KIND_MODELS: Final[dict[str, type[BaseModel]]] = {
    "rule": RuleTag, "bucket": BucketTag, "top": TopTag, "score": ScoreTag}
_TAG_MODELS: Final[dict[str, type[BaseModel]]] = {
    **_KIND_MODELS, "ranges": Range, "cases": Case, "terms": Term, "levels": Level,
    "name": Names}
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Tag:
    """A checked tag: its spec, where it was defined, its parsed conditions."""

    spec: TagSpec
    file: str
    line: int | None
    conditions: Mapping[tuple[str | int, ...], expr.Node] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def kind(self) -> expr.Kind:
        """The kind of the tag's values: rule tags are true/false, the others labels."""
        return "boolean" if isinstance(self.spec, RuleTag) else "string"

    def reads(self) -> set[str]:
        """Fields and tags the tag's conditions read."""
        return set().union(*(expr.fields_read(n) for n in self.conditions.values()))


@dataclass(frozen=True)
class TagSet:
    """The enabled tags in dependency order (a tag comes after the tags it reads)."""

    tags: tuple[Tag, ...]
    disabled: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Tag]:
        return iter(self.tags)

    def __len__(self) -> int:
        return len(self.tags)

    def get(self, tag_id: str) -> Tag:
        """The tag ``tag_id``; :class:`SpecError` with a hint when there is none."""
        for tag in self.tags:
            if tag.id == tag_id:
                return tag
        hint = ("it is switched off in the workspace's tags/" if tag_id in self.disabled
                else did_you_mean(tag_id, [t.id for t in self.tags]))
        raise SpecError([Problem(f"no tag '{tag_id}'", hint=hint)])

    def kinds(self) -> dict[str, expr.Kind]:
        """Tag id → kind of its values."""
        return {t.id: t.kind for t in self.tags}

    def labels(self) -> dict[str, tuple[str, ...]]:
        """Label tag id → every label it can give (bucket and score tags)."""
        return {t.id: tag_labels(t.spec) for t in self.tags
                if isinstance(t.spec, BucketTag | ScoreTag)}

    def windows(self) -> set[expr.Window]:
        """Windowed aggregates any tag reads."""
        return set().union(*(expr.windows_read(n) for t in self.tags
                             for n in t.conditions.values()))

    def affinities(self) -> set[str]:
        """Categories whose affinity any tag reads."""
        return set().union(*(expr.affinities_read(n) for t in self.tags
                             for n in t.conditions.values()))


def tag_labels(spec: TagSpec) -> tuple[str, ...]:
    """The labels a bucket or score tag can give."""
    if isinstance(spec, BucketTag):
        return tuple(spec.labels())
    if isinstance(spec, ScoreTag):
        return tuple([lv.label for lv in spec.levels]
                     + ([spec.default] if spec.default is not None else []))
    return ()


def library_files() -> list[tuple[str, str]]:
    """The standard library: (file name, text) of each packaged tag file, by name."""
    folder = files("portraits.tags") / LIBRARY
    found = [(f"{LIBRARY}/{entry.name}", entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".yaml")]
    return sorted(found)


def workspace_files(folder: Path) -> list[tuple[str, str]]:
    """(path, text) of the workspace's ``tags/*.yaml`` and ``*.yml``, by name."""
    if not folder.is_dir():
        return []
    return [(str(p), p.read_text(encoding="utf-8")) for p in sorted(folder.iterdir())
            if p.suffix in (".yaml", ".yml")]


def load_tags(fields: Mapping[str, expr.Kind], workspace: Sequence[tuple[str, str]] = (),
              standard: Sequence[tuple[str, str]] | None = None,
              values: Mapping[str, Sequence[str]] | None = None) -> TagSet:
    """Read, merge and check the tag files.

    Args:
        fields: The names conditions may read besides tags, with their kinds.
        workspace: The workspace's tag files as (path, text).
        standard: The standard library files; the packaged library when omitted.
        values: The values of enumerated fields (see :func:`expr.check`).

    Raises:
        SpecError: Every problem of every file at once.
    """
    problems: list[Problem] = []
    chosen: dict[str, Tag] = {}
    origin: dict[str, str] = {}
    disabled: list[tuple[str, str, int | None]] = []
    for group, sources in (("standard", library_files() if standard is None else standard),
                           ("workspace", workspace)):
        for path, text in sources:
            parsed = read_yaml_file(path, text, problems, TagFile, "tags", _TAG_MODELS)
            if parsed is None:
                continue
            tag_file, data = parsed
            for i, spec in enumerate(tag_file.tags):
                line = item_line(data, "tags", i)
                if origin.get(spec.id) == group:
                    problems.append(Problem(f"tag '{spec.id}' is defined twice", path, line,
                                            f"tags[{i}].id", f"first in {chosen[spec.id].file}"))
                chosen[spec.id] = Tag(spec, path, line)
                origin[spec.id] = group
            disabled += [(d, path, line_of(data, ["disable", j]))
                         for j, d in enumerate(tag_file.disable)]
    for tag_id, path, line in disabled:
        if tag_id not in chosen:
            problems.append(Problem(f"cannot switch off '{tag_id}': no such tag", path, line,
                                    "disable", did_you_mean(tag_id, chosen)))
    off = {d for d, _, _ in disabled}
    enabled = {k: t for k, t in chosen.items() if t.spec.enabled and k not in off}
    off |= {k for k, t in chosen.items() if not t.spec.enabled}
    parsed_tags = {k: _parse_conditions(t, problems) for k, t in enabled.items()}
    for tag in parsed_tags.values():
        if tag.id in fields:
            problems.append(Problem(f"tag id '{tag.id}' is also a profile field; choose another",
                                    tag.file, tag.line, "id"))
    ordered = _in_order(parsed_tags, off, problems)
    if not problems:
        _check_kinds(ordered, fields, problems, values or {})
    if problems:
        raise SpecError(problems)
    return TagSet(tuple(ordered), tuple(sorted(off)))


@functools.lru_cache(maxsize=1024)
def _yaml_tree(text: str) -> Any:
    """The round-trip YAML tree (with line numbers) of a definition file's text.

    Cached by text: every catalogue lookup reads all tag and segment files again (counting
    the demo's segments read them some 30 times), and ruamel's parser is pure Python,
    tens of milliseconds a file. Nothing changes the tree it returns.
    """
    return YAML(typ="rt").load(text)


def read_yaml_file(path: str, text: str, problems: list[Problem], model: type[M],
                   key: str, models: Mapping[str, type[BaseModel]]) -> tuple[M, Any] | None:
    """A definition file as ``model`` (a list under ``key``; a file may also hold one item,
    recognised by its ``id``) with its YAML tree for line numbers, or None after adding
    every problem found to ``problems``.

    Args:
        models: Setting name (or ``kind`` value) → the model below it, for did-you-mean.
    """
    try:
        data = _yaml_tree(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        problems.append(Problem(f"not valid YAML: {exc.problem}", path,
                                mark.line + 1 if mark is not None else None))
        return None
    if data is None:
        return None
    single = isinstance(data, dict) and "id" in data
    if single:
        data = {key: [data]}
    if not isinstance(data, dict):
        problems.append(Problem(f"a definition file is a mapping with '{key}:' (a list)",
                                path, 1))
        return None
    try:
        return model.model_validate(_plain(data)), data
    except ValidationError as exc:
        for err in exc.errors():
            loc = [p for p in err["loc"] if p not in _KIND_MODELS]
            shown = loc[2:] if single else loc
            problems.append(Problem(_message(err), path, line_of(
                data[key][0] if single else data, shown if single else loc),
                ".".join(str(p) for p in shown), _hint(err, models)))
        return None


def item_line(data: Any, key: str, index: int) -> int | None:
    """The line where item ``index`` of the list ``key`` starts (also in a one-item file)."""
    if isinstance(data, CommentedMap):
        return line_of(data, [key, index])
    item = data[key][index]
    return item.lc.line + 1 if isinstance(item, CommentedMap) else None


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown setting"
    if err["type"] == "missing":
        return "required setting is missing"
    if err["type"] == "union_tag_invalid":
        return "kind must be one of rule, bucket, top, score"
    if err["type"] == "union_tag_not_found":
        return "a tag needs 'kind: rule|bucket|top|score'"
    return str(err["msg"]).removeprefix("Value error, ")


def _hint(err: Any, models: Mapping[str, type[BaseModel]]) -> str | None:
    """For a misspelt setting, the closest setting of the model it sits in."""
    if err["type"] != "extra_forbidden":
        return None
    model: type[BaseModel] | None = models.get("")
    for part in err["loc"][:-1]:
        if isinstance(part, str):
            model = models.get(part) or model
    if model is None:
        return None
    names = [info.alias or name for name, info in model.model_fields.items()]
    return did_you_mean(str(err["loc"][-1]), names)


def _parse_conditions(tag: Tag, problems: list[Problem]) -> Tag:
    nodes: dict[tuple[str | int, ...], expr.Node] = {}
    for where, text in tag.spec.conditions():
        try:
            nodes[where] = expr.parse(text)
        except expr.ExprError as exc:
            problems.append(_expr_problem(tag, where, exc))
    return Tag(tag.spec, tag.file, tag.line, nodes)


def _expr_problem(tag: Tag, where: tuple[str | int, ...], exc: expr.ExprError) -> Problem:
    at = ".".join(str(p) for p in (tag.id, *where))
    column = f" at column {exc.column}" if exc.column else ""
    return Problem(exc.message + column, tag.file, tag.line, at, exc.hint)


def _in_order(tags: dict[str, Tag], off: set[str], problems: list[Problem]) -> list[Tag]:
    graph = {k: {r for r in t.reads() if r in tags} for k, t in tags.items()}
    for tag in tags.values():
        for name in sorted(tag.reads() & off):
            problems.append(Problem(f"reads tag '{name}', which is switched off", tag.file,
                                    tag.line, tag.id, f"switch '{name}' back on or change "
                                    f"'{tag.id}'"))
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = " → ".join(exc.args[1])
        first = tags[exc.args[1][0]]
        problems.append(Problem(f"tags read each other in a cycle: {cycle}", first.file,
                                first.line, first.id))
        return list(tags.values())
    return [tags[k] for k in order]


def _check_kinds(tags: list[Tag], fields: Mapping[str, expr.Kind],
                 problems: list[Problem], values: Mapping[str, Sequence[str]]) -> None:
    known = {**fields, **{t.id: t.kind for t in tags}}
    values = {**values, **{t.id: tag_labels(t.spec) for t in tags
                           if isinstance(t.spec, BucketTag | ScoreTag)}}
    for tag in tags:
        for where, node in tag.conditions.items():
            try:
                kind = expr.check(node, known, values)
            except expr.ExprError as exc:
                problems.append(_expr_problem(tag, where, exc))
                continue
            want = _wanted(tag.spec, where)
            if want is not None and kind not in (want, "null"):
                at = ".".join(str(p) for p in (tag.id, *where))
                wanted = "a condition" if want == "boolean" else f"a {want}"
                problems.append(Problem(f"must be {wanted}, not {kind}", tag.file, tag.line, at))


def _wanted(spec: TagSpec, where: tuple[str | int, ...]) -> expr.Kind | None:
    if where[-1] == "when":
        return "boolean"
    if isinstance(spec, ScoreTag) or (isinstance(spec, BucketTag) and spec.ranges is not None):
        return "number"
    return None
