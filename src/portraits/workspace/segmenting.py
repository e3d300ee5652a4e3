"""``ws.segments``: count, compare and export audiences defined in ``segments/*.yaml``,
and save static member lists (a cluster) as segments."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import ibis.expr.types as ir
import pyarrow as pa

from portraits.errors import PortraitsError, Problem, SpecError, did_you_mean
from portraits.model.pii import mask_email, mask_name, mask_phone
from portraits.profile.schema import CUSTOMER_ID

if TYPE_CHECKING:
    from portraits.segments.audience import Overlap, Segment
    from portraits.segments.spec import SegmentSpec
    from portraits.tags import expr
    from portraits.workspace.facade import Workspace

HISTORY = "segment_history"
# Contact columns an export may add, from the person's customer records; all personal.
CONTACT: Final[dict[str, Callable[[str], str]]] = {
    "name": mask_name, "phone": mask_phone, "email": mask_email,
    "wechat_openid": lambda v: v[:4] + "****" if v else v}
DEFAULT_COLUMNS: Final = ("customer_id", "gender", "age", "city", "city_tier", "orders", "spend",
                          "days_since_last_order", "rfm_segment", "value_layer",
                          "lifecycle_stage")
FORMATS: Final = (".csv", ".xlsx", ".parquet")


class SegmentsNamespace:
    """Audiences over profiles, tags and events (``ws.segments``).

    Example:
        >>> ws.segments.count("cart_abandoners_today")                     # doctest: +SKIP
        >>> ws.segments.export("cart_abandoning_vips", "out.xlsx",
        ...                    columns=["customer_id", "phone"])           # doctest: +SKIP
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def fields(self) -> dict[str, expr.Kind]:
        """What a segment may read: profile and RFM fields, and every enabled tag."""
        return self._vocabulary()[0]

    def values(self) -> dict[str, tuple[str, ...]]:
        """Values of enumerated profile fields and labels of label tags."""
        return self._vocabulary()[1]

    def _vocabulary(self) -> tuple[dict[str, expr.Kind], dict[str, tuple[str, ...]]]:
        """Fields and values together, from one reading of the tag files."""
        from portraits.tags.compute import field_values, tag_fields

        tagset = self._ws.tags.catalog()
        return {**tag_fields(), **tagset.kinds()}, {**field_values(), **tagset.labels()}

    def catalog(self) -> dict[str, Segment]:
        """The workspace's segments, checked."""
        from portraits.segments.audience import load_segments, segment_files

        return load_segments(segment_files(self._ws.root / "segments"), *self._vocabulary())

    def get(self, segment: str | SegmentSpec | Segment) -> Segment:
        """A segment by id, or a spec made in code (checked against the fields)."""
        from portraits.segments.audience import Segment, check_segment, pick

        if isinstance(segment, Segment):
            return segment
        if isinstance(segment, str):
            return pick(self.catalog(), segment)
        fields, values = self._vocabulary()
        return check_segment(segment, fields, values=values)

    def _base(self, chosen: Segment, as_of: datetime) -> ir.Table:
        return self._base_of([chosen], as_of)

    def _base_of(self, chosen: Sequence[Segment], as_of: datetime) -> ir.Table:
        """Profiles, predictions and tags with every windowed aggregate, affinity and
        saved list that any of ``chosen`` reads."""
        from portraits.tags import expr
        from portraits.tags.compute import tag_inputs, window_aggregates
        from portraits.workspace.tagging import TAGS

        ws = self._ws
        if not ws.engine.has_table(TAGS):
            raise PortraitsError("no tags yet; run 'portraits tags run' first")
        windows = set().union(*(expr.windows_read(c.condition) for c in chosen))
        categories = set().union(*(expr.affinities_read(c.condition) for c in chosen))
        parts = []
        if windows:
            src = ws.tags._sources()
            parts = window_aggregates(src["events"], src["orders"], windows, as_of)
        if categories:
            from portraits.tags.compute import affinity_table

            parts.append(affinity_table(ws.profiles.interests(), categories))
        base = tag_inputs(ws.profiles.with_predictions(), ws.tags.table(), parts, windows,
                          categories)
        return self._with_lists(base, set().union(*(c.spec.lists() for c in chosen)))

    def _with_lists(self, base: ir.Table, names: set[str]) -> ir.Table:
        """``base`` with a true/false column per saved list the segment reads."""
        from portraits.profile.spine import attach
        from portraits.segments.audience import LISTS, list_columns
        from portraits.segments.spec import list_field

        if not names:
            return base
        engine = self._ws.engine
        saved = set(engine.to_arrow(engine.table(LISTS).select("list").distinct())
                    .column("list").to_pylist()) if engine.has_table(LISTS) else set()
        for name in sorted(names - saved):
            hint = did_you_mean(name, saved) or (
                f"saved: {', '.join(sorted(saved))}" if saved else
                "save one with ws.segments.save_list(...)")
            raise SpecError([Problem(f"no saved list '{name}'", hint=hint)])
        joined = attach(base, list_columns(engine.table(LISTS), names))
        return joined.mutate(**{list_field(n): joined[list_field(n)].fill_null(False)
                                for n in names})

    def save_list(self, name: str, members: ir.Table | pa.Table, segment_id: str | None = None,
                  names: Mapping[str, str] | None = None, description: str = "",
                  replace: bool = False) -> Path:
        """Save ``members`` as a static list and a segment over it (``segments/<id>.yaml``
        with ``where: {list: name}``).

        Args:
            name: The list's id (lower-case letters, digits, _).
            members: A table of ``customer_id`` (an Ibis or Arrow table), e.g. a cluster's.
            segment_id: The segment's id; ``name`` when omitted.
            names: ``{"en": ..., "zh-CN": ...}``; the id when omitted.
            description: What the members have in common (a cluster's summary).
            replace: Overwrite a segment of that id saved before (its list too).

        Returns:
            The segment file written.

        Example:
            >>> ws.segments.save_list("cluster_3", clustering.members(3),
            ...     names={"en": "Young parents", "zh-CN": "年轻父母"})       # doctest: +SKIP
        """
        from portraits.segments.audience import save_list
        from portraits.segments.spec import SegmentSpec

        segment_id = segment_id or name
        spec = SegmentSpec.model_validate({
            "id": segment_id, "name": dict(names or {"en": segment_id, "zh-CN": segment_id}),
            "description": description, "where": {"list": name}})
        path = self._ws.root / "segments" / f"{segment_id}.yaml"
        defined = self.catalog().get(segment_id)
        if defined is not None and (not replace or Path(defined.file or "") != path):
            raise PortraitsError(f"segment '{segment_id}' is already defined in "
                                 f"{defined.file}; choose another id"
                                 + (" or replace=True" if Path(defined.file or "") == path
                                    else ""))
        if path.exists() and defined is None:
            raise PortraitsError(f"{path.name} already exists; choose another segment id")
        save_list(self._ws.engine, name, members, self._ws.settings.current_time())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_segment_yaml(spec), encoding="utf-8")
        self.get(segment_id)  # the file loads back
        return path

    def lists(self) -> ir.Table:
        """Saved lists: ``list``, ``customers``, ``saved_at``."""
        from portraits.segments.audience import LISTS

        lists = self._ws.table(LISTS)
        return lists.group_by("list").aggregate(customers=lists.count(),
                                                saved_at=lists.saved_at.max())

    def members(self, segment: str | SegmentSpec | Segment,
                as_of: datetime | None = None) -> ir.Table:
        """The ``customer_id`` of every member."""
        from portraits.segments.audience import members

        chosen = self.get(segment)
        as_of = as_of or self._ws.settings.current_time()
        return members(self._base(chosen, as_of), chosen, as_of)

    def count(self, segment: str | SegmentSpec | Segment, record: bool = True) -> int:
        """Members now; with ``record`` the size is added to ``segment_history``."""
        from portraits.segments.audience import size_rows

        ws = self._ws
        now = ws.settings.current_time()
        chosen = self.get(segment)
        size = ws.engine.count(self.members(chosen, now))
        if record:
            rows = ws.engine.materialize(size_rows(chosen.id, size, now))
            ws.engine.write(HISTORY, rows, mode="append" if ws.engine.has_table(HISTORY)
                            else "replace")
        return size

    def count_all(self, segments: Sequence[str | SegmentSpec | Segment] | None = None,
                  record: bool = True) -> dict[str, int]:
        """Members now of each of ``segments`` (every segment of the catalogue when None),
        counted in one query over one base; with ``record`` the sizes are added to
        ``segment_history`` in one write.

        Returns:
            Segment id → members, in the order given.

        Example:
            >>> ws.segments.count_all()                                     # doctest: +SKIP
            {'vip': 2311, 'at_risk': 5120, ...}
        """
        from portraits.segments.audience import size_rows
        from portraits.tags import expr

        ws = self._ws
        now = ws.settings.current_time()
        chosen = [self.get(s) for s in (self.catalog().values() if segments is None
                                        else segments)]
        if not chosen:
            return {}
        base = self._base_of(chosen, now)
        sums = {f"n{i}": expr.compile_to_ibis(  # type: ignore[attr-defined]
                    c.condition, base, now).fill_null(False).ifelse(1, 0).sum()
                for i, c in enumerate(chosen)}
        row = ws.engine.to_arrow(base.aggregate(**sums)).to_pylist()[0]
        sizes = {c.id: int(row[f"n{i}"] or 0) for i, c in enumerate(chosen)}
        if record:
            rows = ws.engine.materialize(pa.concat_tables(
                [size_rows(i, n, now) for i, n in sizes.items()]))
            ws.engine.write(HISTORY, rows, mode="append" if ws.engine.has_table(HISTORY)
                            else "replace")
        return sizes

    def sizes(self, segment: str) -> ir.Table:
        """The recorded sizes of a segment over time (``counted_at``, ``customers``)."""
        history = self._ws.table(HISTORY)
        return history.filter(history.segment == segment).order_by("counted_at")

    def overlap(self, left: str | SegmentSpec, right: str | SegmentSpec) -> Overlap:
        """How two segments overlap: sizes, members of both, Jaccard index."""
        from portraits.segments.audience import Overlap

        first, second = self.get(left), self.get(right)
        a, b = self.members(first), self.members(second)
        both = a.join(b, CUSTOMER_ID).select(CUSTOMER_ID)
        engine = self._ws.engine
        return Overlap(first.id, second.id, engine.count(a), engine.count(b),
                       engine.count(both))

    def export(self, segment: str | SegmentSpec, path: str | Path,
               columns: Sequence[str] | None = None, show_pii: bool = False) -> int:
        """Write the members with chosen columns to CSV, Excel or Parquet (by suffix).

        Args:
            segment: A segment id or spec.
            path: ``.csv`` (UTF-8 with BOM, opens in Excel), ``.xlsx`` or ``.parquet``.
            columns: Profile fields, RFM fields, tags and contact columns (name, phone,
                email, wechat_openid); :data:`DEFAULT_COLUMNS` when omitted.
            show_pii: Write contact columns unmasked; masked (138****5678) otherwise.

        Returns:
            Rows written.
        """
        out = Path(path)
        if out.suffix.lower() not in FORMATS:
            raise PortraitsError(f"cannot export to '{out.name}': use a file ending in "
                                 f"{', '.join(FORMATS)}")
        wanted = list(columns or DEFAULT_COLUMNS)
        table = self._export_table(segment, wanted)
        data = self._ws.engine.to_arrow(table.order_by(CUSTOMER_ID))
        if not show_pii:
            data = _masked(data)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(data, out)
        elif out.suffix.lower() == ".csv":
            data.to_pandas().to_csv(out, index=False, encoding="utf-8-sig")
        else:
            data.to_pandas().to_excel(out, index=False, sheet_name="segment")
        return int(data.num_rows)

    def _export_table(self, segment: str | SegmentSpec, wanted: list[str]) -> ir.Table:
        known = {*self.fields(), *CONTACT}
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise SpecError([Problem(f"cannot export unknown column '{c}'", field="columns",
                                     hint=did_you_mean(c, known)) for c in unknown])
        ws = self._ws
        chosen = self.members(segment)
        base = ws.profiles.with_predictions().join(ws.tags.table(), CUSTOMER_ID)
        rows = chosen.join(base, CUSTOMER_ID)
        contact = [c for c in wanted if c in CONTACT]
        if contact:
            people = ws.identity.attach("customers")
            picked = people.group_by(CUSTOMER_ID).aggregate(
                **{c: people[c].max() for c in contact})
            rows = rows.left_join(picked, CUSTOMER_ID).drop(f"{CUSTOMER_ID}_right")
        return rows.select(*wanted) if CUSTOMER_ID in wanted else rows.select(
            CUSTOMER_ID, *wanted)


def _masked(data: pa.Table) -> pa.Table:
    for name, mask in CONTACT.items():
        if name in data.column_names:
            values = [None if v is None else mask(str(v)) for v in data[name].to_pylist()]
            data = data.set_column(data.column_names.index(name), name,
                                   pa.array(values, pa.string()))
    return data



def _segment_yaml(spec: SegmentSpec) -> str:
    """A segment file with one segment; a description of several lines as a block."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import LiteralScalarString

    item: dict[str, object] = {"id": spec.id, "name": {"en": spec.name.en,
                                                      "zh-CN": spec.name.zh}}
    if spec.description:
        item["description"] = (LiteralScalarString(spec.description)
                               if "\n" in spec.description else spec.description)
    item["where"] = {"list": next(iter(spec.lists()))}
    out = io.StringIO()
    yaml = YAML()
    yaml.dump({"segments": [item]}, out)
    return out.getvalue()
