"""Blocked identifiers and links: ``identity/blocks.yaml`` in the workspace.

A person (or ``portraits identity split``) blocks an identifier that wrongly joins people
(a shop's phone typed into many records) or a single link (one record that tied two
people together). The file is plain YAML, kept in git with the rest of the workspace::

    identifiers:
      - phone:+8613912345678
    links:
      - [device_id:DEV-1234, member_id:M10000001]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from portraits.errors import PortraitsError, Problem, SpecError

BLOCKS_FILE = Path("identity") / "blocks.yaml"
Identifier = tuple[str, str]
LINK_COLUMNS = ("left_type", "left_value", "right_type", "right_value")


def parse_identifier(text: str) -> Identifier:
    """``type:value`` as a pair; the value may itself hold colons.

    Example:
        >>> parse_identifier("phone:+8613912345678")
        ('phone', '+8613912345678')
    """
    id_type, sep, value = text.strip().partition(":")
    if not sep or not id_type or not value:
        raise PortraitsError(f"'{text}' is not type:value (for example phone:+8613912345678)")
    return id_type, value


def identifier_text(identifier: Identifier) -> str:
    """A pair as ``type:value``."""
    return f"{identifier[0]}:{identifier[1]}"


@dataclass(frozen=True)
class Blocks:
    """What the workspace blocks from merging."""

    identifiers: tuple[Identifier, ...] = ()
    links: tuple[tuple[Identifier, Identifier], ...] = ()

    @property
    def digest(self) -> str:
        """A short fingerprint: a run records it, so a changed file is noticed."""
        text = repr((sorted(self.identifiers), sorted(tuple(sorted(p)) for p in self.links)))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_identifier(self, identifier: Identifier) -> Blocks:
        """These blocks and one more identifier."""
        if identifier in self.identifiers:
            return self
        return Blocks((*self.identifiers, identifier), self.links)

    def with_link(self, left: Identifier, right: Identifier) -> Blocks:
        """These blocks and one more link."""
        if (left, right) in self.links or (right, left) in self.links:
            return self
        return Blocks(self.identifiers, (*self.links, (left, right)))

    def identifier_table(self) -> ir.Table:
        """Blocked identifiers as a table (``id_type, id_value``)."""
        return ibis.memtable({"id_type": [t for t, _ in self.identifiers],
                              "id_value": [v for _, v in self.identifiers]},
                             schema={"id_type": "string", "id_value": "string"})

    def link_table(self) -> ir.Table:
        """Blocked links in both directions (``left_type … right_value``)."""
        both = [*self.links, *((b, a) for a, b in self.links)]
        return ibis.memtable(
            {"left_type": [a[0] for a, _ in both], "left_value": [a[1] for a, _ in both],
             "right_type": [b[0] for _, b in both], "right_value": [b[1] for _, b in both]},
            schema=dict.fromkeys(LINK_COLUMNS, "string"))


def read_blocks(root: Path) -> Blocks:
    """The blocks of the workspace at ``root`` (none if the file does not exist)."""
    path = root / BLOCKS_FILE
    if not path.is_file():
        return Blocks()
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except YAMLError as exc:
        raise SpecError([Problem(f"not valid YAML: {exc}", str(path))]) from None
    problems: list[Problem] = []
    if not isinstance(data, dict) or set(data) - {"identifiers", "links"}:
        problems.append(Problem("expected the keys 'identifiers' and 'links'", str(path)))
        raise SpecError(problems)
    identifiers, links = [], []
    for item in data.get("identifiers") or []:
        try:
            identifiers.append(parse_identifier(str(item)))
        except PortraitsError as exc:
            problems.append(Problem(str(exc), str(path), field="identifiers"))
    for item in data.get("links") or []:
        try:
            if not isinstance(item, list) or len(item) != 2:
                raise PortraitsError(f"{item!r} is not a pair [type:value, type:value]")
            links.append((parse_identifier(str(item[0])), parse_identifier(str(item[1]))))
        except PortraitsError as exc:
            problems.append(Problem(str(exc), str(path), field="links"))
    if problems:
        raise SpecError(problems)
    return Blocks(tuple(identifiers), tuple(links))


def write_blocks(root: Path, blocks: Blocks) -> Path:
    """Write ``identity/blocks.yaml`` (sorted, so diffs stay small)."""
    path = root / BLOCKS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Identifiers and links never used to merge people (portraits identity split).",
             "# Edit by hand if you like; 'portraits identity resolve' applies the changes.",
             "identifiers:"]
    lines += [f"  - {_quoted(identifier_text(i))}" for i in sorted(blocks.identifiers)]
    lines.append("links:")
    lines += [f"  - [{_quoted(identifier_text(a))}, {_quoted(identifier_text(b))}]"
              for a, b in sorted(blocks.links)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
