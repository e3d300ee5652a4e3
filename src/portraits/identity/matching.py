"""Probabilistic matching of customer records that share no hard identifier (Splink).

Two CRM rows typed by different clerks — one character of the name or one digit of the
phone wrong, the address written another way, no e-mail — belong to one person, but the
ID graph cannot see it: they share no identifier. Splink scores every candidate pair with
a Fellegi-Sunter model (m and u probabilities per comparison level, trained without
labels), so each pair gets a match weight that says how much more likely it is under "same
person" than under "two people".

The preparation (:func:`match_records`) is an Ibis expression. The model is trained on
the collected records in an in-process DuckDB (:func:`trained_model`), the same on every
engine: Splink samples the random pairs of its u estimate by each backend's own hash, so
training on Spark and on DuckDB gave different weights. The trained model then scores the
candidate pairs in the workspace's own engine (DuckDB or Spark, through
:meth:`Engine.splink_api`); the pairs are split by :class:`MatchingSpec` into links (above
``threshold``), a review list (between ``review_above`` and ``threshold``) and the rest.
Scores can still differ between engines on Chinese text: DuckDB's edit distance and
Jaro-Winkler count UTF-8 bytes, Spark's characters.

Candidate pairs are chosen by :mod:`portraits.identity.blocking`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from portraits.engine import local_splink_api
from portraits.engine.base import Engine
from portraits.identity import graph
from portraits.identity.blocking import (
    BLOCKING_RULES,
    EM_PROBE,
    MATCH_SKIPPED_KEYS,
    SKIPPED_SCHEMA,
    UNIQUE_ID,
    blocked_pairs,
    blocking_rule,
    candidates,
    keyed,
)
from portraits.identity.rules import IdentityRules
from portraits.model.canonical import CUSTOMERS
from portraits.workspace.spec import MatchingSpec

_log = logging.getLogger(__name__)
# Traditional characters clerks type in addresses, and their simplified forms.
_TRADITIONAL = {"號": "号", "樓": "楼", "區": "区", "門": "门", "單": "单", "東": "东",
                "陽": "阳", "棟": "栋", "廣": "广", "華": "华", "國": "国"}
COMPARED = ("name", "name_sorted", "phone", "email", "birthday", "gender", "city", "address")
DECISIONS = ("match", "review", "no_match")
MATCHING_SOURCE = "matching"


def match_records(customers: ir.Table, rules: IdentityRules | None = None,
                  spec: MatchingSpec | None = None) -> ir.Table:
    """Customer rows as Splink compares them: one row per record, normalised text.

    Values that are no evidence of who is who are made missing: the gender ``unknown``
    (what a cleaning fill writes for "not given"), with ``rules`` the phones and e-mails
    the identity rules call junk (+8613800000000, test@test.com), and with ``spec`` its
    ``junk_birthdays``. Two strangers share them, and their blocks are the largest.

    Args:
        customers: The canonical ``customers`` table.
        rules: The identity rules whose junk phones and e-mails to leave out, or None.
        spec: ``identity.matching`` whose placeholder birthdays to leave out, or None.

    Returns:
        ``unique_id`` (the record key, ``source|source_id``), ``source_id``, ``member_id``,
        ``phone`` (digits of the national number), and normalised ``name``,
        ``name_sorted`` (Latin name parts in order, so "Wei Wang" meets "Wang Wei"),
        ``email``, ``birthday``, ``gender``, ``city`` and ``address``.
    """
    t = customers
    name = t.name.strip().lower().re_replace(r"\s+", " ").nullif("")
    phone = _unless_junk(t, "phone", rules)
    birthday = t.birthday
    if spec is not None and spec.junk_birthdays:
        birthday = ibis.ifelse(birthday.isin(list(spec.junk_birthdays)),
                               ibis.null("date"), birthday)
    return t.select(
        **{UNIQUE_ID: t._source.concat("|", t.source_id)},
        source_id=t.source_id, member_id=t.member_id,
        name=name,
        name_sorted=name.split(" ").sort().join(" "),
        phone=phone.re_replace(r"^\+86", "").re_replace(r"[^0-9]", "").nullif(""),
        email=_unless_junk(t, "email", rules).lower().nullif(""),
        birthday=birthday.cast("string"),
        gender=t.gender.nullif("unknown"),
        city=t.city,
        address=_normalised_address(t.address, t.city),
    )


def _unless_junk(customers: ir.Table, field: str, rules: IdentityRules | None) -> ir.StringValue:
    """``customers[field]``, NULL where the identity rules call its value junk."""
    value: ir.StringValue = customers[field]
    rule = dict(rules.identifier_fields(CUSTOMERS)).get(field) if rules is not None else None
    if rule is None:
        return value
    junk = graph.is_junk(graph.normalized(value, rule), rule)
    return ibis.ifelse(junk, ibis.null("string"), value)


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
    exact. Candidate pairs share a birthday and gender, a phone, a name and city, or an
    e-mail (a name alone would pair every 王伟 in the country), each rule without its keys
    shared by more than ``max_block_size`` records, and a too common birthday and gender
    again within its city (:mod:`portraits.identity.blocking`).
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

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
            blocking_rule(r.columns) for r in BLOCKING_RULES],
        additional_columns_to_retain=["source_id", "member_id"],
        retain_matching_columns=True,
    )


def score_pairs(records: pa.Table, spec: MatchingSpec, db_api: Any) -> pa.Table:
    """Train the model on ``records`` and score the candidate pairs at or above
    ``spec.review_above``.

    The model is trained by :func:`trained_model` (in-process DuckDB, the same whatever
    the engine) and scores the pairs on ``db_api``, the workspace's engine.

    Args:
        records: :func:`match_records`, collected.
        spec: ``identity.matching``.
        db_api: The engine's Splink backend (:meth:`Engine.splink_api`).

    Returns:
        One row per pair: ``left_id``, ``right_id`` (record keys), ``left_source_id``,
        ``right_source_id``, ``left_member_id``, ``right_member_id``, ``match_weight``,
        ``match_probability``.
    """
    from splink import Linker

    # Engines hand the rows over in their own order.
    records = keyed(records, spec).sort_by(UNIQUE_ID)
    model = trained_model(records, spec)
    settings = with_parameters(splink_settings(spec).create_settings_dict(
        db_api.sql_dialect.sql_dialect_str), model)
    frame = db_api.register(records, dataset_display_name="customers",
                            table_name="__portraits_match_records")
    linker = Linker(frame, settings, log_level=logging.ERROR)
    try:
        scored = linker.inference.predict(threshold_match_probability=spec.review_above)
        pairs = scored.as_pyarrow_table()  # type: ignore[no-untyped-call]
    finally:
        db_api.delete_tables_created_by_splink_from_db()
        # The records' table too, or the engine's next run could not register them again.
        frame.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    columns = {f"{UNIQUE_ID}_l": "left_id", f"{UNIQUE_ID}_r": "right_id",
               "source_id_l": "left_source_id", "source_id_r": "right_source_id",
               "member_id_l": "left_member_id", "member_id_r": "right_member_id",
               "match_weight": "match_weight", "match_probability": "match_probability"}
    picked = pairs.select(list(columns)).rename_columns(list(columns.values()))
    return picked.cast(PAIRS_SCHEMA)


def trained_model(records: pa.Table, spec: MatchingSpec) -> dict[str, Any]:
    """The Fellegi-Sunter model trained on ``records`` (sorted by ``unique_id``).

    Training needs no labels: u probabilities from random pairs, the share of matching
    pairs from pairs that share a phone or an e-mail, m probabilities by expectation
    maximisation on two blockings (birthday and gender, then phone), each estimating what
    the other holds fixed. It runs in an in-process DuckDB of one thread, so the same
    records give the same parameters on every engine and every run.

    Every step is bounded: the blockings leave out the keys :func:`candidates` leaves
    out, the random pairs are at most ``max_pairs``, and an expectation maximisation
    whose blocking makes more than ``max_pairs`` pairs reads a deterministic sample of
    the records (Splink's hash of the record key) that makes about ``max_pairs``.

    Returns:
        Splink's settings with the trained m and u probabilities and the prior
        (``save_model_to_json``), its SQL in DuckDB's dialect.
    """
    from splink import Linker
    from splink.internals.exceptions import SplinkException  # no public module has it

    records = keyed(records, spec)
    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained-level notes
    with local_splink_api() as training_api:
        frame = training_api.register(records, dataset_display_name="customers",
                                      table_name="__portraits_match_records")
        linker = Linker(frame, splink_settings(spec), log_level=logging.ERROR)
        training = linker.training
        training.estimate_probability_two_random_records_match(
            [blocking_rule(("phone",)), blocking_rule(("email",))], recall=0.7)
        training.estimate_u_using_random_sampling(max_pairs=spec.max_pairs, seed=spec.seed)
        # Levels no random pair fell in are bounded before expectation maximisation too:
        # Splink's EM writes their missing u into its SQL as NaN, and fails.
        drawn = min(spec.max_pairs, records.num_rows * (records.num_rows - 1) // 2)
        linker = Linker(frame, with_unseen_levels_bounded(linker.misc.save_model_to_json(),
                                                          drawn), log_level=logging.ERROR)
        training = linker.training
        for columns in (("birthday", "gender"), ("phone",)):
            # Sampled only past max_pairs, so smaller data trains exactly as it always has.
            sampled = blocked_pairs(records, columns) > spec.max_pairs
            before = linker.misc.save_model_to_json()
            try:
                training.estimate_parameters_using_expectation_maximisation(
                    blocking_rule(columns), max_pairs=spec.max_pairs if sampled else None,
                    record_sample_proportion=EM_PROBE)
            except SplinkException as exc:
                # A comparison that no pair of the blocking can compare (no two e-mails
                # among a few hundred records) gets m = 0 / 0, and Splink's next
                # iteration fails on the NaN: the step is skipped, the others train it.
                lines = str(exc).splitlines()
                why = next((line for line in lines if "Error was" in line), lines[-1])
                _log.warning("matching: the training step blocked on %s was skipped, a "
                             "field could not be compared in its pairs (%s)",
                             "+".join(columns), why.strip()[:200])
                linker = Linker(frame, before, log_level=logging.ERROR)
                training = linker.training
        model: dict[str, Any] = linker.misc.save_model_to_json()
    return without_nan(model)


def _with_levels(model: dict[str, Any],
                 change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """``model`` (Splink's saved settings) with ``change`` applied to every level."""
    return {**model, "comparisons": [
        {**comparison, "comparison_levels": [change(level)
                                             for level in comparison["comparison_levels"]]}
        for comparison in model["comparisons"]]}


def without_nan(model: dict[str, Any]) -> dict[str, Any]:
    """``model`` without m or u probabilities that are NaN (a level is then untrained, and
    Splink uses its default, instead of writing NaN into the scoring SQL)."""
    return _with_levels(model, lambda level: {
        k: v for k, v in level.items()
        if not (k in ("m_probability", "u_probability") and isinstance(v, float)
                and math.isnan(v))})


def with_unseen_levels_bounded(model: dict[str, Any], pairs: int) -> dict[str, Any]:
    """``model`` with a u probability for every level none of ``pairs`` random pairs fell
    in.

    Among a million random pairs of a million customers, not one may have phones one
    digit apart: Splink then saves that level without u, and the scoring linker falls
    back to a default that makes "one digit off" weak evidence — at 1M customers most
    duplicates with a mistyped name *and* phone were missed (recall 0.80). A rate never
    seen in ``pairs`` draws is below 3 / ``pairs`` with 95 % confidence (the rule of
    three); that bound is the conservative u (the smallest Bayes factor the data allow).
    """
    bound = 3 / pairs
    return _with_levels(model, lambda level: (
        level if level.get("is_null_level") or "u_probability" in level
        else {**level, "u_probability": bound}))


def with_parameters(settings: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """``settings`` (the comparisons in the scoring engine's SQL dialect) with the trained
    m and u probabilities and prior of ``model``.

    The trained model's SQL is DuckDB's (``jaro_winkler_similarity``; Spark has
    ``jaro_winkler``), so its parameters move level by level into settings written for
    the engine that scores; both come from :func:`splink_settings`, level for level.
    """
    scoring = {**settings, "probability_two_random_records_match":
               model["probability_two_random_records_match"]}
    scoring["comparisons"] = [
        {**comparison, "comparison_levels": [
            {**level, **{k: trained[k] for k in ("m_probability", "u_probability")
                         if k in trained}}
            for level, trained in zip(comparison["comparison_levels"],
                                      fitted["comparison_levels"], strict=True)]}
        for comparison, fitted in zip(settings["comparisons"], model["comparisons"],
                                      strict=True)]
    return scoring


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


def anchors(customers: ir.Table, rules: IdentityRules) -> ir.Table:
    """Each customer record's anchor in the ID graph: its highest-priority usable identifier.

    A matched pair links the two records' anchors, so the pair joins the people those
    records already belong to.

    Returns:
        ``unique_id`` (as :func:`match_records` writes it), ``anchor_type``,
        ``anchor_value``; records with no usable identifier are left out.
    """
    fields = rules.identifier_fields(CUSTOMERS)
    values = [(rule, graph.normalized(customers[name], rule)) for name, rule in fields]
    usable = [(rule, v, v.notnull() & ~graph.is_junk(v, rule)) for rule, v in values]
    if not usable:
        return customers.select(**{UNIQUE_ID: ibis.null("string"),
                                   "anchor_type": ibis.null("string"),
                                   "anchor_value": ibis.null("string")}).limit(0)
    anchor_type = ibis.cases(*((ok, rule.name) for rule, _, ok in usable),
                             else_=ibis.null("string"))
    anchor_value = ibis.cases(*((ok, v) for _, v, ok in usable), else_=ibis.null("string"))
    rows = customers.select(**{UNIQUE_ID: customers._source.concat("|", customers.source_id)},
                            anchor_type=anchor_type, anchor_value=anchor_value)
    return rows.filter(rows.anchor_value.notnull()).distinct(on=UNIQUE_ID, keep="first")


def match_links(decided: ir.Table, anchored: ir.Table, rules: IdentityRules,
                now: datetime) -> ir.Table:
    """Links of the ID graph from the pairs decided ``match``.

    The link's record is the pair itself (``record_key`` ``left ~ right``, source
    ``matching``), so ``portraits identity explain`` shows which match joined whom.

    Returns:
        The columns of :func:`graph.link_rows`.
    """
    matched = decided.filter(decided.decision == "match")
    for side in ("left", "right"):
        ends = anchored.select(**{f"{side}_id": anchored[UNIQUE_ID],
                                  f"{side}_t": anchored.anchor_type,
                                  f"{side}_v": anchored.anchor_value})
        matched = matched.join(ends, f"{side}_id")
    priority = {name: rule.priority for name, rule in rules.types.items()}

    def rank(column: ir.StringValue) -> ir.IntegerValue:
        return ibis.cases(*((column == n, p) for n, p in priority.items()), else_=-1)

    # The higher-priority end on the left; of one type, the smaller value (as link_rows).
    left_first = ((rank(matched.left_t) > rank(matched.right_t))
                  | ((matched.left_t == matched.right_t) & (matched.left_v <= matched.right_v)))

    def pick(a: ir.StringValue, b: ir.StringValue) -> ir.StringValue:
        return ibis.ifelse(left_first, a, b)

    links = matched.filter((matched.left_t != matched.right_t)
                           | (matched.left_v != matched.right_v)).select(
        left_type=pick(matched.left_t, matched.right_t),
        left_value=pick(matched.left_v, matched.right_v),
        right_type=pick(matched.right_t, matched.left_t),
        right_value=pick(matched.right_v, matched.left_v),
        entity=ibis.literal(CUSTOMERS.name), source=ibis.literal(MATCHING_SOURCE),
        record_key=matched.left_id.concat(" ~ ", matched.right_id),
        order_key=ibis.literal(f"{int(now.timestamp()):012d}|matching|").concat(
            matched.left_id, " ~ ", matched.right_id),
        seen_at=ibis.literal(now, "timestamp"))
    return graph.first_links(links)


MATCH_PAIRS = "match_pairs"
MIN_RECORDS = 20  # fewer records than this cannot train the model: matching is skipped


class Matcher:
    """Runs probabilistic matching within an identity run: the effectful edge.

    Scores every candidate pair of customer records, applies the reviewers' decisions,
    stores the pairs (``match_pairs``: each with its probability, weight and decision) and
    the blocking keys left out for being too common (``match_skipped_keys``, see
    :class:`~portraits.identity.blocking.Candidates`), and returns the links of the
    pairs decided ``match``.

    Args:
        engine: The workspace's engine.
        spec: ``identity.matching`` of ``portraits.yaml``.
        rules: The identity rules (anchors and link orientation).
        decisions: Reviewers' decisions (``left_id, right_id, decision``), or None.
        now: The run's time.
    """

    def __init__(self, engine: Engine, spec: MatchingSpec, rules: IdentityRules,
                 decisions: pa.Table | None, now: datetime) -> None:
        self.engine, self.spec, self.rules = engine, spec, rules
        self.decisions, self.now = decisions, now
        self.counts = (0, 0)  # pairs decided match, pairs left to review (last call)
        self.skipped = SKIPPED_SCHEMA.empty_table()  # keys left out of blocking (last call)

    def __call__(self, keep: Callable[[ir.Table], ir.Table]) -> ir.Table | None:
        """The match links (materialised by ``keep``), or None if matching is off or
        there are too few customer records to train on."""
        engine = self.engine
        if not self.spec.enabled or not engine.has_table(CUSTOMERS.name):
            return None
        customers = engine.table(CUSTOMERS.name)
        records = engine.to_arrow(match_records(customers, self.rules, self.spec))
        if records.num_rows < MIN_RECORDS:
            return None
        found = candidates(records, self.spec)
        self.skipped = found.skipped
        engine.write(MATCH_SKIPPED_KEYS, keep(engine.materialize(found.skipped)))
        pairs = keep(engine.materialize(score_pairs(found.records, self.spec,
                                                    engine.splink_api())))
        reviewed = keep(engine.materialize(self.decisions)) if self.decisions else None
        decided = keep(decide(pairs, self.spec, reviewed))
        engine.write(MATCH_PAIRS, decided)
        rows = engine.to_arrow(decided.group_by("decision").aggregate(n=decided.count()))
        tally = {r["decision"]: r["n"] for r in rows.to_pylist()}
        self.counts = (int(tally.get("match", 0)), int(tally.get("review", 0)))
        return keep(match_links(decided, anchors(customers, self.rules), self.rules, self.now))
