"""Probabilistic matching of customer records that share no hard identifier (Splink).

Two CRM rows typed by different clerks — one character of the name or one digit of the
phone wrong, the address written another way, no e-mail — belong to one person, but the
ID graph cannot see it: they share no identifier. Splink scores every candidate pair with
a Fellegi-Sunter model (m and u probabilities per comparison level, trained without
labels), so each pair gets a match weight that says how much more likely it is under "same
person" than under "two people".

The preparation (:func:`match_records`) is an Ibis expression; Splink runs the model in
the workspace's own engine (DuckDB or Spark, through :meth:`Engine.splink_api`); the
pairs it returns are split by :class:`MatchingSpec` into links (above ``threshold``), a
review list (between ``review_above`` and ``threshold``) and the rest.
"""

from __future__ import annotations

import logging
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

UNIQUE_ID = "unique_id"
# Traditional characters clerks type in addresses, and their simplified forms.
_TRADITIONAL = {"號": "号", "樓": "楼", "區": "区", "門": "门", "單": "单", "東": "东",
                "陽": "阳", "棟": "栋", "廣": "广", "華": "华", "國": "国"}
COMPARED = ("name", "name_sorted", "phone", "email", "birthday", "gender", "city", "address")
DECISIONS = ("match", "review", "no_match")


class MatchingSpec(BaseModel):
    """The ``identity.matching`` section of ``portraits.yaml``.

    Attributes:
        enabled: Run probabilistic matching of customer records.
        threshold: Pairs at or above this match probability become links in the ID graph.
        review_above: Pairs from here up to ``threshold`` go to the review list.
        max_pairs: Random pairs sampled to estimate the u probabilities.
        seed: Seed of that sample, so runs are reproducible.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    threshold: float = Field(0.95, gt=0, lt=1)
    review_above: float = Field(0.5, gt=0, lt=1)
    max_pairs: int = Field(1_000_000, gt=0)
    seed: int = 42

    @model_validator(mode="after")
    def _review_below_threshold(self) -> MatchingSpec:
        if self.review_above > self.threshold:
            raise ValueError("review_above must not be above threshold")
        return self


def match_records(customers: ir.Table) -> ir.Table:
    """Customer rows as Splink compares them: one row per record, normalised text.

    Args:
        customers: The canonical ``customers`` table.

    Returns:
        ``unique_id`` (the record key, ``source|source_id``), ``source_id``, ``member_id``,
        ``phone`` (digits of the national number), and normalised ``name``,
        ``name_sorted`` (Latin name parts in order, so "Wei Wang" meets "Wang Wei"),
        ``email``, ``birthday``, ``gender``, ``city`` and ``address``.
    """
    t = customers
    name = t.name.strip().lower().re_replace(r"\s+", " ").nullif("")
    phone = t.phone.re_replace(r"^\+86", "").re_replace(r"[^0-9]", "").nullif("")
    return t.select(
        **{UNIQUE_ID: t._source.concat("|", t.source_id)},
        source_id=t.source_id, member_id=t.member_id,
        name=name,
        name_sorted=name.split(" ").sort().join(" "),
        phone=phone,
        email=t.email.lower().nullif(""),
        birthday=t.birthday.cast("string"),
        gender=t.gender,
        city=t.city,
        address=_normalised_address(t.address, t.city),
    )


def _normalised_address(address: ir.StringValue, city: ir.StringValue) -> ir.StringValue:
    """The address without province and city prefix, simplified characters, no blanks."""
    text = address.re_replace(r"\s+", "")
    for old, new in _TRADITIONAL.items():
        text = text.replace(old, new)
    # "浙江省杭州市西湖区…" and "西湖区…" are the same address.
    text = text.re_replace(r"^.*?(省|自治区)", "").re_replace(r"^.*?市", "")
    return ibis.ifelse(text == "", ibis.null("string"), text)


def splink_settings(spec: MatchingSpec) -> Any:
    """Comparisons and blocking rules chosen for Chinese and Latin customer records.

    Names: exact; the same Latin parts in another order; one character apart (a Chinese
    given-name typo is one character of three); Jaro-Winkler ≥ 0.88 (Latin typos).
    Phones: exact; one digit changed or two swapped. Birthdays: exact; one digit apart.
    Addresses (normalised): exact; Jaro-Winkler ≥ 0.9 and ≥ 0.75. E-mail, gender, city:
    exact. Candidate pairs share a birthday, a phone, a name or an e-mail.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    del spec
    name = cl.CustomComparison([
        cll.NullLevel("name"),
        cll.ExactMatchLevel("name"),
        cll.ExactMatchLevel("name_sorted").configure(label_for_charts="name parts swapped"),
        cll.LevenshteinLevel("name", 1),
        cll.JaroWinklerLevel("name", 0.88),
        cll.ElseLevel(),
    ], output_column_name="name")
    phone = cl.CustomComparison([
        cll.NullLevel("phone"),
        cll.ExactMatchLevel("phone"),
        cll.DamerauLevenshteinLevel("phone", 1),
        cll.ElseLevel(),
    ], output_column_name="phone")
    birthday = cl.CustomComparison([
        cll.NullLevel("birthday"),
        cll.ExactMatchLevel("birthday"),
        cll.LevenshteinLevel("birthday", 1),
        cll.ElseLevel(),
    ], output_column_name="birthday")
    address = cl.CustomComparison([
        cll.NullLevel("address"),
        cll.ExactMatchLevel("address"),
        cll.JaroWinklerLevel("address", 0.9),
        cll.JaroWinklerLevel("address", 0.75),
        cll.ElseLevel(),
    ], output_column_name="address")
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID,
        comparisons=[name, phone, birthday, address, cl.ExactMatch("email"),
                     cl.ExactMatch("gender"), cl.ExactMatch("city")],
        blocking_rules_to_generate_predictions=[
            block_on("birthday"), block_on("phone"), block_on("name"), block_on("email"),
        ],
        additional_columns_to_retain=["source_id", "member_id"],
        retain_matching_columns=True,
    )


def score_pairs(records: pa.Table, spec: MatchingSpec, db_api: Any) -> pa.Table:
    """Train the model on ``records`` and score the candidate pairs at or above
    ``spec.review_above``.

    Training needs no labels: u probabilities from random pairs, the share of matching
    pairs from pairs that share a phone or an e-mail, m probabilities by expectation
    maximisation on two blockings (birthday, then phone), each estimating what the other
    holds fixed.

    Returns:
        One row per pair: ``left_id``, ``right_id`` (record keys), ``left_source_id``,
        ``right_source_id``, ``left_member_id``, ``right_member_id``, ``match_weight``,
        ``match_probability``.
    """
    from splink import Linker, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained-level notes
    frame = db_api.register(records, dataset_display_name="customers",
                            table_name="__portraits_match_records")
    linker = Linker(frame, splink_settings(spec), log_level=logging.ERROR)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("phone"), block_on("email")], recall=0.7)
    training.estimate_u_using_random_sampling(max_pairs=spec.max_pairs, seed=spec.seed)
    training.estimate_parameters_using_expectation_maximisation(block_on("birthday"))
    training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    scored = linker.inference.predict(threshold_match_probability=spec.review_above)
    try:
        pairs = scored.as_pyarrow_table()  # type: ignore[no-untyped-call]
    finally:
        db_api.delete_tables_created_by_splink_from_db()
    columns = {f"{UNIQUE_ID}_l": "left_id", f"{UNIQUE_ID}_r": "right_id",
               "source_id_l": "left_source_id", "source_id_r": "right_source_id",
               "member_id_l": "left_member_id", "member_id_r": "right_member_id",
               "match_weight": "match_weight", "match_probability": "match_probability"}
    picked = pairs.select(list(columns)).rename_columns(list(columns.values()))
    return picked.cast(PAIRS_SCHEMA)


PAIRS_SCHEMA = pa.schema([
    ("left_id", pa.string()), ("right_id", pa.string()),
    ("left_source_id", pa.string()), ("right_source_id", pa.string()),
    ("left_member_id", pa.string()), ("right_member_id", pa.string()),
    ("match_weight", pa.float64()), ("match_probability", pa.float64()),
])


def decide(pairs: ir.Table, spec: MatchingSpec, reviewed: ir.Table | None = None) -> ir.Table:
    """Each pair with its decision: ``match``, ``review`` or ``no_match``.

    A reviewer's decision (``reviewed``: ``left_id``, ``right_id``, ``decision`` of
    ``match`` or ``no_match``) overrides the threshold, whichever way round the pair is
    written.

    Returns:
        ``pairs`` with ``decision`` and ``decided_by`` (``model`` or ``reviewer``).
    """
    by_model = ibis.cases(
        (pairs.match_probability >= spec.threshold, "match"),
        (pairs.match_probability >= spec.review_above, "review"),
        else_="no_match",
    )
    if reviewed is None:
        return pairs.mutate(decision=by_model, decided_by=ibis.literal("model"))
    both_ways = reviewed.select("left_id", "right_id", "decision").union(
        reviewed.select(left_id=reviewed.right_id, right_id=reviewed.left_id,
                        decision=reviewed.decision))
    verdicts = both_ways.rename(review_decision="decision").distinct()
    joined = pairs.left_join(verdicts, ["left_id", "right_id"]).drop(
        "left_id_right", "right_id_right")
    return joined.mutate(
        decision=joined.review_decision.fill_null(by_model),
        decided_by=ibis.ifelse(joined.review_decision.isnull(), "model", "reviewer"),
    ).drop("review_decision")
