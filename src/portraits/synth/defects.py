"""Planted bad input: values each cleaning rule must catch, at known rows.

Every planted defect is returned as a :class:`Defect` with the file row a person would
see, so tests can check that the load finds exactly these, at exactly these rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import pyarrow as pa

# (rule the loader reports, canonical field, source column, bad value)
Plan = tuple[tuple[str, str, str, str], ...]

CRM_DEFECTS: Final[Plan] = (
    ("missing_required", "source_id", "会员编号", ""),
    ("invalid_phone", "phone", "手机号", "12345"),
    ("invalid_email", "email", "邮箱", "not-an-email"),
    ("unparsable_date", "birthday", "出生日期", "1990-13-45"),
    ("age_out_of_range", "birthday", "出生日期", "1890-01-01"),
    ("future_timestamp", "registered_at", "注册时间", "2099/01/01 10:00"),
)
ORDER_DEFECTS: Final[Plan] = (
    ("negative_amount", "total_amount", "total_amount", "-59.0"),
    ("future_timestamp", "ordered_at", "order_time", "2099-01-01 10:00:00"),
    ("before_2000", "ordered_at", "order_time", "1970-01-01 00:00:00"),
    ("unparsable_timestamp", "ordered_at", "order_time", "昨天下午"),
)
ITEM_DEFECTS: Final[Plan] = (
    ("zero_or_negative_quantity", "quantity", "quantity", "0"),
    ("negative_amount", "unit_price", "unit_price", "-10.0"),
)
PRODUCT_DEFECTS: Final[Plan] = (("negative_amount", "price", "price", "-1.0"),)
REVIEW_DEFECTS: Final[Plan] = (("rating_out_of_range", "rating", "rating", "6"),
                               ("rating_out_of_range", "rating", "rating", "0"))
EVENT_DEFECTS: Final[Plan] = (
    ("future_timestamp", "timestamp", "timestamp", "2099-01-01 10:00:00"),
    ("before_2000", "timestamp", "timestamp", "1970-01-01 00:00:00"),
)


@dataclass(frozen=True)
class Defect:
    """One planted defect: where it is and what the loader must say about it."""

    source: str
    file: str
    row: int
    rule: str
    field: str | None

    def as_dict(self) -> dict[str, object]:
        """A plain dict for the truth file."""
        return asdict(self)


def how_many(rows: int, rate: float = 0.002, most: int = 200) -> int:
    """Defects of one kind in a block of ``rows``: a few per thousand, at least one."""
    return int(min(most, max(1, round(rows * rate)))) if rows > 10 else 0


def plant_values(rng: np.random.Generator, table: pa.Table, plan: Plan,
                 taken: set[int]) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Overwrite cells with bad values; returns (row index, rule, field) of each.

    ``taken`` holds row indexes already used, so one row carries one planted defect.
    """
    planted: list[tuple[int, str, str]] = []
    columns = {name: table.column(name).to_pylist() for name in {p[2] for p in plan}}
    as_text: set[str] = set()
    free = np.setdiff1d(np.arange(table.num_rows), np.fromiter(taken, np.int64, len(taken)))
    for rule, field, column, value in plan:
        typed = _typed(value, table.schema.field(column).type)
        if typed is None and value != "":
            as_text.add(column)
        count = min(how_many(table.num_rows), len(free))
        chosen = rng.choice(free, size=count, replace=False)
        free = np.setdiff1d(free, chosen)
        for index in chosen:
            columns[column][int(index)] = typed if column not in as_text else value or None
            planted.append((int(index), rule, field))
            taken.add(int(index))
    for name, values in columns.items():
        position = table.schema.get_field_index(name)
        if name in as_text:
            array = pa.array([None if v is None else str(v) for v in values], pa.string())
        else:
            array = pa.array(values, table.schema.field(name).type)
        table = table.set_column(position, name, array)
    return table, planted


def _typed(value: str, kind: pa.DataType) -> object:
    """The bad value in the column's own type, or None if it has no such form."""
    if value == "":
        return None
    try:
        return pa.array([value]).cast(kind)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def plant_copies(rng: np.random.Generator, table: pa.Table,
                 taken: set[int]) -> tuple[pa.Table, list[tuple[int, int]]]:
    """Append exact copies of a few rows (a resent record); returns (original, copy) rows."""
    free = np.setdiff1d(np.arange(table.num_rows), np.fromiter(taken, np.int64, len(taken)))
    count = min(how_many(table.num_rows), len(free))
    chosen = np.sort(rng.choice(free, size=count, replace=False))
    taken.update(int(i) for i in chosen)
    copies = table.take(pa.array(chosen))
    pairs = [(int(original), table.num_rows + k) for k, original in enumerate(chosen)]
    return pa.concat_tables([table, copies]), pairs
