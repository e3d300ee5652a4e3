"""Blocking at size: values that are no evidence are missing, and blocks too common to
pair are left out of their rule (the other rules still find the duplicates)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from pydantic import ValidationError

from portraits.identity.blocking import (
    MATCH_SKIPPED_KEYS,
    UNIQUE_ID,
    BlockingRule,
    blocked_pairs,
    candidate_pairs,
    candidates,
)
from portraits.identity.matching import (
    match_records,
    score_pairs,
    trained_model,
    with_unseen_levels_bounded,
)
from portraits.identity.rules import IdentityRules
from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from portraits.workspace.spec import MatchingSpec
from tests.conftest import NOW

_RECORD_FIELDS = ("name", "name_sorted", "phone", "email", "birthday", "gender", "city",
                  "address")


def _records(rows: list[dict[str, str | None]]) -> pa.Table:
    """Match records as :func:`match_records` writes them, from partial rows."""
    full = [{UNIQUE_ID: f"crm|{i}", "source_id": str(i), "member_id": str(i),
             **{f: row.get(f) for f in _RECORD_FIELDS}} for i, row in enumerate(rows)]
    return pa.Table.from_pylist(full, schema=pa.schema(
        [(UNIQUE_ID, pa.string()), ("source_id", pa.string()), ("member_id", pa.string()),
         *((f, pa.string()) for f in _RECORD_FIELDS)]))


def _flag(columns: tuple[str, ...]) -> str:
    return BlockingRule(columns).flag


def test_a_key_shared_by_more_than_max_block_size_records_is_left_out_of_its_rule() -> None:
    common = [{"birthday": "1990-01-01", "gender": "female", "phone": f"1380000000{i}",
               "city": "上海" if i < 2 else "北京"} for i in range(4)]
    rare = [{"birthday": "1985-06-30", "gender": "male", "phone": "13900000000"},
            {"birthday": "1985-06-30", "gender": "male", "phone": "13900000000"},
            {"birthday": None, "gender": "male"}]
    found = candidates(_records(common + rare), MatchingSpec(max_block_size=3))
    birthday = found.records[_flag(("birthday", "gender"))].to_pylist()
    assert birthday == [None] * 4 + [True, True, None]  # too common; kept; key missing
    phone = found.records[_flag(("phone",))].to_pylist()
    assert phone == [True] * 6 + [None]  # the phone rule still pairs the common block
    # The common birthday is blocked again within its city; the others are not.
    in_city = found.records[_flag(("birthday", "gender", "city"))].to_pylist()
    assert in_city == [True] * 4 + [None] * 3
    assert found.skipped.to_pylist() == [{
        "rule": "birthday+gender", "key": "1990-01-01 | female", "records": 4,
        "block_pairs": 6, "then_by": "birthday+gender+city"}]


def test_a_city_block_too_common_is_left_out_too() -> None:
    rows = [{"birthday": "1990-01-01", "gender": "female", "city": "上海"}] * 5
    found = candidates(_records(rows), MatchingSpec(max_block_size=3))
    assert [(s["rule"], s["key"], s["then_by"]) for s in found.skipped.to_pylist()] == [
        ("birthday+gender", "1990-01-01 | female", "birthday+gender+city"),
        ("birthday+gender+city", "1990-01-01 | female | 上海", None)]
    assert found.records[_flag(("birthday", "gender", "city"))].null_count == 5


def test_no_limit_leaves_nothing_out() -> None:
    rows = [{"birthday": "1990-01-01", "gender": "female"}] * 600
    found = candidates(_records(rows), MatchingSpec(max_block_size=0))
    assert found.skipped.num_rows == 0
    assert found.records[_flag(("birthday", "gender"))].null_count == 0
    default = candidates(_records(rows), MatchingSpec())  # 500 by default
    assert default.skipped.column("records").to_pylist() == [600]


def test_counted_pairs_follow_the_rules_and_the_cap() -> None:
    rows = ([{"birthday": "1990-01-01", "gender": "female", "city": "上海"}] * 3
            + [{"birthday": "1990-01-01", "gender": "female", "city": "北京"}] * 2
            + [{"birthday": "1991-02-02", "gender": "male", "email": "a@b.cn"}] * 3)
    keyed = candidates(_records(rows), MatchingSpec(max_block_size=4)).records
    assert blocked_pairs(keyed, ("birthday", "gender")) == 3  # the block of 5 is left out
    assert blocked_pairs(keyed, ("email",)) == 3
    assert blocked_pairs(keyed, ("birthday", "gender", "city")) == 3 + 1
    counted = candidate_pairs(keyed, MatchingSpec(max_block_size=4))
    # The e-mail pairs are the birthday rule's already: not counted again.
    assert counted == {"birthday+gender": 3, "phone": 0, "name+city": 0, "email": 0,
                       "birthday+gender+city": 4}


def test_max_block_size_of_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_block_size"):
        MatchingSpec(max_block_size=1)
    with pytest.raises(ValidationError, match="max_block_size"):
        MatchingSpec(max_block_size=-5)


def test_placeholder_values_are_missing_in_match_records() -> None:
    customers = ibis.memtable(pa.table({
        "_source": ["crm"] * 3, "source_id": ["1", "2", "3"], "member_id": ["1", "2", "3"],
        "name": ["王伟", "李娜", "张敏"],
        "phone": ["+8613800000000", "+8613912345678", "+8613512345678"],
        "email": ["test@test.com", "li.na@163.com", None],
        "birthday": pa.array([date(1900, 1, 1), date(1988, 3, 4), date(1970, 1, 1)]),
        "gender": ["unknown", "female", "male"],
        "city": ["上海", "北京", "广州"],
        "address": pa.array([None, None, None], pa.string()),
    }))
    rows = ibis.duckdb.connect().to_pyarrow(match_records(
        customers, IdentityRules.from_spec(), MatchingSpec())).to_pylist()
    assert [r["phone"] for r in rows] == [None, "13912345678", "13512345678"]
    assert [r["email"] for r in rows] == [None, "li.na@163.com", None]
    assert [r["birthday"] for r in rows] == [None, "1988-03-04", None]
    assert [r["gender"] for r in rows] == [None, "female", "male"]
    kept = ibis.duckdb.connect().to_pyarrow(match_records(
        customers, IdentityRules.from_spec(), MatchingSpec(junk_birthdays=()))).to_pylist()
    assert [r["birthday"] for r in kept] == ["1900-01-01", "1988-03-04", "1970-01-01"]


@pytest.fixture(scope="module")
def placeholder_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[frozenset[str]]]:
    """2,000 synthetic people whose CRM rows (all of them, duplicates included) carry one
    birthday that is no placeholder a list knows: the commonest block, left out of its rule
    by a small cap. Returns the workspace and the planted duplicate pairs."""
    root = tmp_path_factory.mktemp("placeholder")
    create_workspace(root)
    generate(root / "data", customers=2000, seed=11, end=date(2026, 11, 1), block=1000)
    crm = root / "data" / "crm_customers.csv"
    with crm.open(encoding="gb18030", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    column = header.index("出生日期")
    for row in rows:
        if len(row) == len(header):
            row[column] = "1988-08-08"
    with crm.open("w", encoding="gb18030", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load(["crm", "store_members"])
    truth = json.loads((root / "data" / "truth" / "truth.json").read_text(encoding="utf-8"))
    planted = {frozenset((d["member_id"], d["duplicate_member_id"]))
               for d in truth["crm_duplicates"]}
    return root, planted


def test_duplicates_in_a_block_left_out_are_still_matched(
        placeholder_shop: tuple[Path, set[frozenset[str]]]) -> None:
    root, planted = placeholder_shop
    spec = MatchingSpec(max_block_size=100)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        records = ws.engine.to_arrow(match_records(ws.engine.table("customers"),
                                                   ws.identity.rules, spec))
        found = candidates(records, spec)
        pairs = score_pairs(found.records, spec, ws.engine.splink_api())
    skipped = found.skipped.to_pylist()
    assert any(s["rule"] == "birthday+gender" and s["key"].startswith("1988-08-08")
               and s["records"] > 100 for s in skipped)
    # Every pair of the placeholder's blocks would be scored without the cap.
    assert pairs.num_rows < sum(s["block_pairs"] for s in skipped)
    sure = pairs.filter(pa.compute.greater_equal(pairs["match_probability"], 0.95))
    matched = {frozenset(p) for p in zip(sure["left_source_id"].to_pylist(),
                                         sure["right_source_id"].to_pylist(), strict=True)}
    assert len(planted) >= 20
    assert len(matched & planted) / len(planted) >= 0.95


def test_resolve_stores_the_keys_left_out(
        placeholder_shop: tuple[Path, set[frozenset[str]]], tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    shutil.copytree(placeholder_shop[0], root)
    spec_file = root / "portraits.yaml"
    spec_file.write_text(spec_file.read_text(encoding="utf-8").replace(
        "identity:\n", "identity:\n  matching: {max_block_size: 100}\n", 1), encoding="utf-8")
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        assert ws.spec.identity.matching.max_block_size == 100
        report = ws.identity.resolve()
        stored = ws.engine.table(MATCH_SKIPPED_KEYS).to_pyarrow()
    assert stored.num_rows >= 1
    assert report.skipped_keys == stored.num_rows
    first = stored.to_pylist()[0]
    assert first["rule"] == "birthday+gender" and first["key"].startswith("1988-08-08")
    assert first["block_pairs"] == first["records"] * (first["records"] - 1) // 2
    assert first["then_by"] == "birthday+gender+city"


def test_training_reads_a_sample_past_max_pairs_and_stays_deterministic(
        placeholder_shop: tuple[Path, set[frozenset[str]]]) -> None:
    root, _ = placeholder_shop
    spec = MatchingSpec(max_block_size=0, max_pairs=20_000)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        records = ws.engine.to_arrow(match_records(ws.engine.table("customers"),
                                                   ws.identity.rules, spec))
    keyed = candidates(records, spec).records.sort_by(UNIQUE_ID)
    assert blocked_pairs(keyed, ("birthday", "gender")) > spec.max_pairs
    first, second = trained_model(keyed, spec), trained_model(keyed, spec)
    assert first["comparisons"] == second["comparisons"]
    levels = [level for c in first["comparisons"] for level in c["comparison_levels"]]
    assert sum("m_probability" in level for level in levels) > 10



def test_a_level_no_random_pair_fell_in_gets_the_rule_of_three_bound() -> None:
    model = {"probability_two_random_records_match": 1e-7, "comparisons": [
        {"output_column_name": "phone", "comparison_levels": [
            {"sql_condition": "phone_l IS NULL", "is_null_level": True},
            {"sql_condition": "phone_l = phone_r", "m_probability": 0.94,
             "u_probability": 2e-6},
            {"sql_condition": "damerau_levenshtein(phone_l, phone_r) <= 1",
             "m_probability": 0.05},  # not one of a million random pairs
            {"sql_condition": "ELSE", "m_probability": 0.01, "u_probability": 0.99998},
        ]}]}
    bounded = with_unseen_levels_bounded(model, 1_000_000)
    levels = bounded["comparisons"][0]["comparison_levels"]
    assert "u_probability" not in levels[0]
    assert [level.get("u_probability") for level in levels[1:]] == [2e-6, 3e-6, 0.99998]
    assert "u_probability" not in model["comparisons"][0]["comparison_levels"][2]


def test_training_survives_a_field_no_pair_can_compare(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # 300 people (the size of the bench command's test): the junk e-mails are missing, and
    # no pair sharing a birthday and gender has two e-mails to compare.
    create_workspace(tmp_path)
    generate(tmp_path / "data", customers=300, seed=7, end=date(2026, 12, 7))
    spec = MatchingSpec()
    with Workspace(tmp_path, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load(["crm", "store_members"])
        records = ws.engine.to_arrow(match_records(ws.engine.table("customers"),
                                                   ws.identity.rules, spec))
        keyed = candidates(records, spec).records.sort_by(UNIQUE_ID)
        with caplog.at_level("WARNING", logger="portraits.identity.matching"):
            model = trained_model(keyed, spec)
            pairs = score_pairs(keyed, spec, ws.engine.splink_api())
    assert "was skipped" in caplog.text  # and did not fail
    levels = [level for c in model["comparisons"] for level in c["comparison_levels"]]
    assert not any(isinstance(level.get(k), float) and level[k] != level[k]
                   for level in levels for k in ("m_probability", "u_probability"))
    assert any("m_probability" in level for level in levels)  # the phone step trained
    assert pairs.num_rows > 0
