"""Render the canonical model as Markdown: ``python -m portraits.model.docs > docs/model.md``."""

from __future__ import annotations

import sys

from portraits.model.canonical import ENTITIES, Entity, FieldDef
from portraits.model.events import ECOMMERCE_EVENTS, LIFECYCLE_EVENTS

HEADER = """\
# Canonical data model / 标准数据模型

Every source is mapped onto these entities (`portraits.yaml` → `sources[].columns`).
Generated from `src/portraits/model/canonical.py`; do not edit by hand
(`python -m portraits.model.docs > docs/model.md`).

- **PII**: personal information; masked in displays, covered by erasure (R9).
- **Required**: a row without it is rejected (kept in `rejects` with the reason).
- **Identifier**: links records to one person in identity resolution; counted in the
  integration rate of the quality report.
- **Built-in rules**: plausibility checks cleaning applies unless the source sets
  `cleaning.builtin_outliers: false` (`reject` drops the row, `null` clears the value).

Every stored table also carries lineage columns: `_source`, `_load_id`, `_file`,
`_row` (the row in that file, header = row 1) and `_loaded_at`.
"""


def _rules(f: FieldDef) -> str:
    parts = []
    for r in f.outliers:
        bound = "" if r.value is None else f" {r.value}"
        parts.append(f"{r.rule} ({r.kind}{bound}; {r.action})")
    return "; ".join(parts)


def entity_markdown(ent: Entity) -> str:
    """One entity as a Markdown section with a table of its fields."""
    lines = [f"## `{ent.name}` — {ent.en} / {ent.zh}", ""]
    mode = "append-only (re-sent keys are skipped)" if ent.mode == "append" else "upsert by key"
    scope = " within each source" if ent.source_scoped else ""
    lines.append(f"Key: `{', '.join(ent.key)}`{scope} · {mode}"
                 + (" · derived, not loaded from files" if ent.derived else ""))
    lines += ["", "| Field | Type | Description | 说明 | PII | Required | Identifier | "
              "Allowed values | Built-in rules |",
              "|---|---|---|---|---|---|---|---|---|"]
    for f in ent.fields:
        lines.append(
            f"| `{f.name}` | {f.dtype} | {f.en} | {f.zh} | {'yes' if f.pii else ''} | "
            f"{'yes' if f.required else ''} | {f.identifier or ''} | "
            f"{', '.join(f.enum) if f.enum else ''} | {_rules(f)} |")
    return "\n".join(lines) + "\n"


def model_markdown() -> str:
    """The whole model document."""
    events = ", ".join(f"`{e}`" for e in ECOMMERCE_EVENTS)
    others = ", ".join(f"`{e}`" for e in LIFECYCLE_EVENTS)
    sections = [HEADER, *(entity_markdown(e) for e in ENTITIES.values()),
                "## Event names / 事件名称\n\nE-commerce events use the Segment E-commerce Spec "
                f"names: {events}. Lifecycle events: {others}.\n"]
    return "\n".join(sections)


if __name__ == "__main__":
    sys.stdout.write(model_markdown())
