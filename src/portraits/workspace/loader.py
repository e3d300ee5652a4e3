"""Read ``portraits.yaml`` into a :class:`WorkspaceSpec`, reporting every problem at once.

Each problem carries the file, the line and a did-you-mean hint. Line numbers come from
ruamel.yaml's round-trip loader, which remembers where every key and item was read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from portraits.errors import Problem, SpecError, did_you_mean
from portraits.identity.rules import identity_problems
from portraits.model.canonical import entity
from portraits.workspace.spec import (
    ColumnMap,
    DuckDBEngineSpec,
    SourceSpec,
    SparkEngineSpec,
    WorkspaceSpec,
)

SPEC_FILE = "portraits.yaml"


def load_spec(path: Path) -> WorkspaceSpec:
    """Parse and validate a workspace file.

    Args:
        path: The ``portraits.yaml`` file.

    Returns:
        The validated spec.

    Raises:
        SpecError: With every problem found, each with file, line and hint.
    """
    if not path.is_file():
        raise SpecError([Problem(f"no workspace file {path.name} here", file=str(path),
                                 hint="create one with 'portraits init DIR'")])
    text = path.read_text(encoding="utf-8")
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise SpecError([Problem(f"not valid YAML: {exc.problem}", str(path), line)]) from None
    if not isinstance(data, dict):
        raise SpecError([Problem("the file must be a mapping of settings", str(path), 1)])
    try:
        spec = WorkspaceSpec.model_validate(_plain(data))
    except ValidationError as exc:
        raise SpecError(_problems(exc, data, str(path))) from None
    problems = list(_semantic_problems(spec, data, str(path)))
    if problems:
        raise SpecError(problems)
    return spec


def _plain(node: Any) -> Any:
    """ruamel containers as plain dicts and lists (pydantic validates plain data)."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def line_of(root: Any, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the deepest node of ``loc`` that exists in the YAML tree."""
    node, line = root, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The spec class whose fields live at ``loc`` (for did-you-mean on unknown keys)."""
    model: type[BaseModel] | None = WorkspaceSpec
    keyed = False  # the part after a mapping of specs (``types: {phone: …}``) is a key
    for part in loc:
        if model is None or isinstance(part, int) or keyed:
            keyed = False
            continue
        info = model.model_fields.get(part)
        if info is None:
            return model if part in ("duckdb", "spark") else None
        ann = info.annotation
        keyed = getattr(ann, "__origin__", None) is dict
        model = next((m for m in _models_in(ann)), None)
    return model


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _models_in(arg)


_ENGINE_MODELS: dict[str, type[BaseModel]] = {"duckdb": DuckDBEngineSpec, "spark": SparkEngineSpec}


def _problems(exc: ValidationError, data: Any, file: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        problems.append(Problem(_message(err), file, line_of(data, loc), _dotted(loc),
                                _hint(err, loc)))
    return problems


_UNION_TAGS = {"duckdb", "spark", "str", "FillValue", "literal['drop','flag','median','mode']",
               "function-before[_from_bare_name(), ColumnMap]"}


def _message(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown setting"
    if err["type"] == "missing":
        return "required setting is missing"
    return str(err["msg"])


def _hint(err: ErrorDetails, loc: list[int | str]) -> str | None:
    if err["type"] == "extra_forbidden" and loc:
        parent = loc[:-1]
        model = _model_at(parent)
        raw = err["loc"]
        tag = next((p for p in raw if p in _ENGINE_MODELS), None)
        if tag is not None:
            model = _ENGINE_MODELS[str(tag)]
        if model is not None:
            return did_you_mean(str(loc[-1]), model.model_fields)
    if err["type"] == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        options = [o.strip(" '") for o in str(expected).replace(" or ", ",").split(",")]
        return did_you_mean(str(err.get("input")), options) or f"expected {expected}"
    return None


def _dotted(loc: Sequence[int | str]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p)
                   for i, p in enumerate(loc))


def _semantic_problems(spec: WorkspaceSpec, data: Any, file: str) -> Iterator[Problem]:
    """Problems pydantic cannot see: names that must match the canonical model."""
    seen: set[str] = set()
    for i, source in enumerate(spec.sources):
        where: list[int | str] = ["sources", i]
        if source.name in seen:
            yield Problem(f"source name '{source.name}' is used twice", file,
                          line_of(data, [*where, "name"]), _dotted([*where, "name"]))
        seen.add(source.name)
        yield from _source_problems(source, data, file, where)
    for loc, message, hint in identity_problems(spec.identity):
        yield Problem(message, file, line_of(data, loc), _dotted(loc), hint)


def _source_problems(source: SourceSpec, data: Any, file: str,
                     where: list[int | str]) -> Iterator[Problem]:
    ent = entity(source.entity)
    names = ent.field_names

    def unknown(field: str, loc: list[int | str]) -> Problem:
        return Problem(f"'{field}' is not a field of {ent.name}", file, line_of(data, loc),
                       _dotted(loc), did_you_mean(field, names))

    for field, mapping in source.columns.items():
        if not ent.has_field(field):
            yield unknown(field, [*where, "columns", field])
        else:
            yield from _mapping_problems(field, mapping, ent.field(field).enum, data, file,
                                         [*where, "columns", field])
    for f in ent.fields:
        if f.required and f.name not in source.columns:
            yield Problem(f"required field '{f.name}' of {ent.name} is not mapped", file,
                          line_of(data, [*where, "columns"]), _dotted([*where, "columns"]),
                          f"add '{f.name}: <source column>' under columns")
    cleaning = source.cleaning
    loc = [*where, "cleaning"]
    if cleaning.dedupe is not None:
        fields = [*cleaning.dedupe.keys, *filter(None, [cleaning.dedupe.order_by])]
        for key in fields:
            if key not in source.columns:
                yield _unmapped(key, ent.name, names, data, file, [*loc, "dedupe"])
    for field in cleaning.missing:
        if field not in source.columns:
            yield _unmapped(field, ent.name, names, data, file, [*loc, "missing", field])
    for j, rule in enumerate(cleaning.outliers):
        if rule.field not in source.columns:
            yield _unmapped(rule.field, ent.name, names, data, file, [*loc, "outliers", j])


def _unmapped(field: str, ent: str, names: Sequence[str], data: Any, file: str,
              loc: list[int | str]) -> Problem:
    return Problem(f"'{field}' is not a mapped field of {ent}", file, line_of(data, loc),
                   _dotted(loc), did_you_mean(field, names))


def _mapping_problems(field: str, mapping: ColumnMap, allowed: tuple[str, ...] | None,
                      data: Any, file: str, loc: list[int | str]) -> Iterator[Problem]:
    if allowed is None or mapping.map is None:
        return
    for raw, value in mapping.map.items():
        if value not in allowed:
            yield Problem(f"'{raw}' maps to '{value}', which is not a value of {field}", file,
                          line_of(data, [*loc, "map", raw]), _dotted([*loc, "map", raw]),
                          did_you_mean(value, allowed) or f"use one of {', '.join(allowed)}")
