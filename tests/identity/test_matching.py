"""Probabilistic matching of CRM duplicates, on the generator's planted typos."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from portraits.errors import SpecError
from portraits.identity.matching import MatchingSpec, decide, match_records, score_pairs
from portraits.identity.review import (
    keep_decisions,
    read_decisions,
    review_rows,
    workspace_decisions,
    write_review,
)
from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from tests.conftest import NOW


@dataclass(frozen=True)
class Scored:
    root: Path
    records: pa.Table
    pairs: pa.Table
    person: dict[str, str]
    planted: set[frozenset[str]]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Scored:
    """3,000 synthetic people loaded on DuckDB; every candidate pair above 0.5 scored."""
    root = tmp_path_factory.mktemp("matching")
    create_workspace(root)
    generate(root / "data", customers=3000, seed=11, end=date(2026, 11, 1), block=1000)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load()
        records = ws.engine.to_arrow(match_records(ws.engine.table("customers")))
        pairs = score_pairs(records, MatchingSpec(), ws.engine.splink_api())
    people = pq.read_table(root / "data" / "truth" / "people.parquet").to_pylist()
    person = {key: p["person_id"] for p in people
              for key in (p["member_id"], p["duplicate_member_id"], p["store_member_id"]) if key}
    truth = json.loads((root / "data" / "truth" / "truth.json").read_text(encoding="utf-8"))
    planted = {frozenset((d["member_id"], d["duplicate_member_id"]))
               for d in truth["crm_duplicates"]}
    return Scored(root, records, pairs, person, planted)


def _decided(scored: Scored, spec: MatchingSpec, reviewed: pa.Table | None = None) -> pa.Table:
    import ibis

    con = ibis.duckdb.connect()
    try:
        review = con.create_table("reviewed", reviewed) if reviewed is not None else None
        return con.to_pyarrow(decide(con.create_table("pairs", scored.pairs), spec, review))
    finally:
        con.disconnect()


def test_planted_crm_duplicates_are_matched_with_precision_and_recall(scored: Scored) -> None:
    decided = _decided(scored, MatchingSpec()).to_pylist()
    matched = [(p["left_source_id"], p["right_source_id"]) for p in decided
               if p["decision"] == "match"]
    same = [scored.person.get(a) is not None and scored.person.get(a) == scored.person.get(b)
            for a, b in matched]
    found = {frozenset(pair) for pair in matched}
    assert len(scored.planted) >= 30
    assert sum(same) / len(matched) >= 0.99
    assert len(found & scored.planted) / len(scored.planted) >= 0.95


def test_every_typo_kind_is_found(scored: Scored) -> None:
    truth = json.loads((scored.root / "data" / "truth" / "truth.json").read_text("utf-8"))
    decided = _decided(scored, MatchingSpec()).to_pylist()
    found = {frozenset((p["left_source_id"], p["right_source_id"])) for p in decided
             if p["decision"] == "match"}
    kinds = {d["typo"] for d in truth["crm_duplicates"]
             if frozenset((d["member_id"], d["duplicate_member_id"])) in found}
    assert kinds == {"name", "phone", "address", "name_and_phone"}


def test_a_stricter_threshold_moves_pairs_to_review(scored: Scored) -> None:
    strict = _decided(scored, MatchingSpec(threshold=0.999999, review_above=0.5))
    decisions = strict.column("decision").to_pylist()
    assert decisions.count("review") > 0
    rows = review_rows(strict, scored.records)
    assert len(rows) == decisions.count("review")
    assert rows[0]["left_name"] is not None and rows[0]["decision"] == ""
    probabilities = [r["match_probability"] for r in rows]
    assert probabilities == sorted(probabilities, reverse=True)


def test_review_decisions_override_the_model_either_way_round(scored: Scored,
                                                              tmp_path: Path) -> None:
    strict = MatchingSpec(threshold=0.999999, review_above=0.5)
    rows = review_rows(_decided(scored, strict), scored.records)
    first, second = rows[0], rows[1]
    first["decision"], second["decision"] = "否", "match"
    path = tmp_path / "review.csv"
    write_review(rows, path)
    decisions = read_decisions(path)
    assert decisions.num_rows == 2
    # Swap one pair's sides: the decision still applies.
    swapped = decisions.to_pylist()
    swapped[1] = {"left_id": swapped[1]["right_id"], "right_id": swapped[1]["left_id"],
                  "decision": swapped[1]["decision"]}
    after = _decided(scored, strict, pa.Table.from_pylist(swapped, decisions.schema))
    by_pair = {(p["left_id"], p["right_id"]): p for p in after.to_pylist()}
    assert by_pair[(first["left_id"], first["right_id"])]["decision"] == "no_match"
    assert by_pair[(second["left_id"], second["right_id"])]["decision"] == "match"
    assert by_pair[(second["left_id"], second["right_id"])]["decided_by"] == "reviewer"
    assert after.num_rows == scored.pairs.num_rows


def test_bad_decisions_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "review.csv"
    path.write_text("left_id,right_id,decision\n"
                    "a,b,maybe\n"
                    "a,,match\n"
                    "c,d,match\n"
                    "d,c,no_match\n"
                    "e,f,\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        read_decisions(path)
    text = str(caught.value)
    assert "review.csv:2: decision: 'maybe' is not a decision" in text
    assert "review.csv:3: right_id" in text
    assert "review.csv:5: decision: this pair was decided 'match' on line 4" in text
    assert len(caught.value.problems) == 3


def test_kept_decisions_merge_and_a_new_decision_wins(tmp_path: Path) -> None:
    first = pa.Table.from_pylist([{"left_id": "a", "right_id": "b", "decision": "match"}])
    later = pa.Table.from_pylist([{"left_id": "b", "right_id": "a", "decision": "no_match"},
                                  {"left_id": "c", "right_id": "d", "decision": "match"}])
    keep_decisions(first, tmp_path)
    kept = keep_decisions(later, tmp_path)
    assert kept.num_rows == 2
    stored = workspace_decisions(tmp_path)
    assert stored is not None
    assert {tuple(sorted((r["left_id"], r["right_id"]))): r["decision"]
            for r in stored.to_pylist()} == {("a", "b"): "no_match", ("c", "d"): "match"}


def test_review_above_may_not_exceed_the_threshold() -> None:
    with pytest.raises(ValidationError, match="review_above"):
        MatchingSpec(threshold=0.8, review_above=0.9)


def test_resolution_joins_the_matched_duplicates_and_explains_why(scored: Scored) -> None:
    with Workspace(scored.root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.identity.resolve()
        ids = ws.identity.customer_ids().to_pandas()
        member = ids[ids.id_type == "member_id"].set_index("id_value").customer_id
        joined = [a for a, b in map(sorted, scored.planted) if member.get(a) == member.get(b)]
        assert len(joined) / len(scored.planted) >= 0.95
        stored = ws.engine.table("match_pairs").to_pandas()
        assert set(stored.decision) <= {"match", "review", "no_match"}
        typed = _lone_phone_typo(scored.root)
        explanation = ws.identity.explain(f"member_id:{typed['duplicate_member_id']}")
    sources = [step.source for step in explanation.steps]
    assert "matching" in sources


def test_a_reviewer_can_undo_a_match_and_the_people_are_split(scored: Scored,
                                                              tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(scored.root, root)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.identity.resolve()
        exported = ws.identity.review(tmp_path / "review.csv")
        header = (tmp_path / "review.csv").read_text("utf-8-sig").splitlines()[0]
        assert header.startswith("left_id,right_id,match_probability")
        assert exported == len((tmp_path / "review.csv").read_text("utf-8-sig").splitlines()) - 1
        typed = _lone_phone_typo(root)
        pairs = ws.engine.table("match_pairs").to_pandas()
        members = {typed["member_id"], typed["duplicate_member_id"]}
        pair = next(p for p in pairs.itertuples()
                    if {p.left_member_id, p.right_member_id} == members)
        assert pair.decision == "match"
        decisions = tmp_path / "decisions.csv"
        decisions.write_text(f"left_id,right_id,decision\n{pair.right_id},{pair.left_id},否\n",
                             encoding="utf-8")
        before = _member_customers(ws)
        assert before[pair.left_member_id] == before[pair.right_member_id]
        report = ws.identity.apply_review(decisions)
        after = _member_customers(ws)
    assert report.splits >= 1
    assert after[pair.left_member_id] != after[pair.right_member_id]
    # The older record keeps the customer id the two shared.
    assert before[pair.left_member_id] in {after[pair.left_member_id],
                                           after[pair.right_member_id]}
    kept = (root / "identity" / "match_decisions.csv").read_text("utf-8-sig")
    assert "no_match" in kept


def _member_customers(ws: Workspace) -> dict[str, str]:
    ids = ws.identity.customer_ids().to_pandas()
    members = ids[ids.id_type == "member_id"]
    return dict(zip(members.id_value, members.customer_id, strict=True))


def _lone_phone_typo(root: Path) -> dict[str, str]:
    """A planted duplicate with a mistyped phone, of a person with no store card: it shares
    no identifier with its original, and only their match joins them."""
    truth = json.loads((root / "data" / "truth" / "truth.json").read_text("utf-8"))
    people = pq.read_table(root / "data" / "truth" / "people.parquet").to_pylist()
    carded = {p["member_id"] for p in people if p["store_member_id"]}
    return next(d for d in truth["crm_duplicates"]
                if d["typo"] == "phone" and d["member_id"] not in carded)
