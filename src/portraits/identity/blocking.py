"""Which pairs of customer records probabilistic matching compares (blocking).

Candidate pairs come from blocking rules: records that share a birthday and gender, a
phone, a name and city, or an e-mail (a name alone would pair every 王伟 in the country).
A block makes pairs with the square of its size: one placeholder birthday on 17,500
records is 150 million pairs, more than the machine holds. So:

1. values that are no evidence are missing before blocking (``match_records``: the
   identity rules' junk phones and e-mails, placeholder birthdays, the gender
   ``unknown``);
2. a key shared by more than ``max_block_size`` records is left out of its rule
   (:func:`candidates`), and the other rules still pair those records;
3. a birthday and gender left out is blocked again within its city (the rule
   ``birthday+gender+city``), so that a duplicate whose name *and* phone were mistyped,
   found by no other rule, is still compared.

Splink has no such cap, so each rule blocks on its columns and a flag column that is
NULL for the records whose key is missing or left out. The flags are counted here, on the
collected records, so every engine blocks the same records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from portraits.engine import local_splink_api
from portraits.workspace.spec import MatchingSpec

UNIQUE_ID = "unique_id"
MATCH_SKIPPED_KEYS = "match_skipped_keys"
SKIPPED_SCHEMA = pa.schema([("rule", pa.string()), ("key", pa.string()),
                            ("records", pa.int64()), ("block_pairs", pa.int64()),
                            ("then_by", pa.string())])


@dataclass(frozen=True)
class BlockingRule:
    """Records are compared when they agree on ``columns``.

    Attributes:
        columns: The columns a pair must share.
        refines: The rule whose left-out keys this one blocks again (finer), or None: it
            then takes only the records that rule left out.
    """

    columns: tuple[str, ...]
    refines: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return "+".join(self.columns)

    @property
    def flag(self) -> str:
        """The flag column: true where the record takes part in this rule."""
        return "block_" + "_".join(self.columns)


# In the order Splink applies them: a pair is scored once, by its first rule.
BLOCKING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule(("birthday", "gender")), BlockingRule(("phone",)),
    BlockingRule(("name", "city")), BlockingRule(("email",)),
    BlockingRule(("birthday", "gender", "city"), refines=("birthday", "gender")),
)
EM_PROBE = 0.05  # share of records Splink blocks first to estimate a training step's pairs


def blocking_rule(columns: tuple[str, ...]) -> Any:
    """Splink's rule: records agree on ``columns`` and both take part in the rule.

    The columns stay in the rule (not only the flag) so that training knows which
    comparisons a blocking fixes, and the join is on all of them.
    """
    from splink import block_on

    return block_on(BlockingRule(columns).flag, *columns)


@dataclass(frozen=True)
class Candidates:
    """Match records ready for blocking, and the keys left out of their rule.

    Attributes:
        records: The records with one flag column per blocking rule
            (:attr:`BlockingRule.flag`): true where the record's key takes part in the
            rule, NULL where it is missing or left out.
        skipped: One row per key left out (:data:`SKIPPED_SCHEMA`): ``rule`` (its columns
            joined by ``+``), ``key`` (the values joined by `` | ``), ``records`` sharing
            it, ``block_pairs`` (the pairs its block would have made) and ``then_by`` (the
            finer rule that blocks its records again, or NULL), largest first.
    """

    records: pa.Table
    skipped: pa.Table


def candidates(records: pa.Table, spec: MatchingSpec) -> Candidates:
    """Flag, for every blocking rule, the records whose key is shared by at most
    ``spec.max_block_size`` records.

    A key shared by more (a placeholder, or the mode a cleaning fill wrote) is left out
    of that rule only; a finer rule that refines it takes those records.

    Args:
        records: ``match_records``, collected.
        spec: ``identity.matching``.
    """
    skipped: list[dict[str, Any]] = []
    refined_by = {r.refines: r.name for r in BLOCKING_RULES if r.refines is not None}
    keys: dict[tuple[str, ...], pa.Array] = {}
    for rule in BLOCKING_RULES:
        key = keys[rule.columns] = _key(records, rule)
        if rule.refines is not None:
            left_by_coarse = pc.and_(pc.is_null(records[BlockingRule(rule.refines).flag]),
                                     keys[rule.refines].is_valid())
            key = pc.if_else(left_by_coarse, key, pa.scalar(None, pa.string()))
        counts = pc.value_counts(key.drop_null())
        sizes = counts.field("counts").to_numpy()
        too_many = (sizes > spec.max_block_size if spec.max_block_size
                    else np.zeros(len(sizes), dtype=bool))
        common = counts.field("values").filter(pa.array(too_many))
        left_out = pc.or_(pc.is_null(key), pc.is_in(key, common))
        flag = pc.if_else(left_out, pa.scalar(None, pa.bool_()), pa.scalar(True))
        records = records.append_column(rule.flag, flag)
        skipped += [{"rule": rule.name, "key": value, "records": int(n),
                     "block_pairs": int(n) * (int(n) - 1) // 2,
                     "then_by": refined_by.get(rule.columns)}
                    for value, n in zip(common.to_pylist(), sizes[too_many], strict=True)]
    skipped.sort(key=lambda row: (-row["records"], row["rule"], row["key"]))
    return Candidates(records, pa.Table.from_pylist(skipped, schema=SKIPPED_SCHEMA))


def _key(records: pa.Table, rule: BlockingRule) -> pa.Array:
    """The rule's key of every record: its values joined by `` | ``, NULL if one is."""
    return pc.binary_join_element_wise(
        *(records[c].cast(pa.string()) for c in rule.columns), " | ").combine_chunks()


def keyed(records: pa.Table, spec: MatchingSpec) -> pa.Table:
    """``records`` with the blocking flags (:func:`candidates`), added if missing."""
    if all(rule.flag in records.column_names for rule in BLOCKING_RULES):
        return records
    return candidates(records, spec).records


def blocked_pairs(records: pa.Table, columns: tuple[str, ...]) -> int:
    """Pairs the rule on ``columns`` makes among ``records`` (with their blocking flags):
    the sum over its kept keys of n (n - 1) / 2."""
    kept = records.filter(pc.is_valid(records[BlockingRule(columns).flag]))
    if kept.num_rows == 0:
        return 0
    sizes = kept.group_by(list(columns)).aggregate([([], "count_all")])["count_all"]
    n = sizes.to_numpy().astype(np.int64)
    return int((n * (n - 1) // 2).sum())


def candidate_pairs(records: pa.Table, spec: MatchingSpec) -> dict[str, int]:
    """How many pairs each blocking rule adds (pairs an earlier rule made not counted
    again), counted exactly in an in-process DuckDB: for benchmarks and diagnosis."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    with local_splink_api() as api:
        frame = api.register(keyed(records, spec), dataset_display_name="customers",
                             table_name="__portraits_match_records")
        counted = count_comparisons_from_blocking_rules(
            frame, blocking_rules=[blocking_rule(r.columns) for r in BLOCKING_RULES],
            link_type="dedupe_only", unique_id_column_name=UNIQUE_ID,
            record_sample_proportion=1.0)
    return {rule.name: int(r["marginal_comparison_count"])
            for rule, r in zip(BLOCKING_RULES, counted, strict=True)}
