"""The synthetic data: reproducible, well-formed, and its planted truth is really there.

One small data set (600 people, in blocks of 250 so that block boundaries are crossed)
is generated and loaded once per module; every test reads it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from portraits.settings import Settings
from portraits.synth import generate
from portraits.workspace.facade import Workspace
from portraits.workspace.scaffold import create_workspace
from tests.conftest import NOW

END = date(2026, 11, 1)
PEOPLE = 600


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The retail example workspace with generated data, loaded on DuckDB."""
    root = tmp_path_factory.mktemp("retail")
    create_workspace(root)
    generate(root / "data", customers=PEOPLE, seed=7, end=END, block=250)
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.ingest.load()
    return root


def truth(root: Path) -> dict[str, Any]:
    return json.loads((root / "data" / "truth" / "truth.json").read_text(encoding="utf-8"))


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".xlsx"}


def test_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", customers=150, seed=3, end=END)
    generate(tmp_path / "b", customers=150, seed=3, end=END)
    generate(tmp_path / "c", customers=150, seed=4, end=END)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["orders.csv"] != digest(tmp_path / "c")["orders.csv"]


def test_writing_a_block_while_the_next_is_made_changes_no_byte(tmp_path: Path) -> None:
    from portraits.synth.runner import _clear, _Run

    generate(tmp_path / "overlapped", customers=300, seed=3, end=END, block=70)
    alone = tmp_path / "alone"
    _clear(alone)
    run = _Run(alone, 300, 3, END)
    for number, first in enumerate(range(0, 300, 70)):
        run.write(run.make(number, first, min(70, 300 - first)))
    run.close()
    assert digest(alone) == digest(tmp_path / "overlapped")


def test_blocks_are_streamed_to_several_files(workspace: Path) -> None:
    events = workspace / "data" / "events"
    assert len(list(events.glob("part-*.parquet"))) == 3
    assert len(list(events.glob("mini-*.jsonl"))) == 3
    people = pq.read_table(workspace / "data" / "truth" / "people.parquet")
    assert people.num_rows == PEOPLE
    assert len(set(people.column("member_id").to_pylist())) == PEOPLE


def test_the_crm_file_is_gb18030_with_chinese_headers(workspace: Path) -> None:
    raw = (workspace / "data" / "crm_customers.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gb18030").startswith('"会员编号","姓名","性别","手机号"')


def test_every_planted_bad_row_is_caught_where_it_was_planted(workspace: Path) -> None:
    planted = {(d["source"], Path(d["file"]).name, d["row"], d["rule"])
               for d in truth(workspace)["defects"]}
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        rejects = ws.ingest.rejects().to_pyarrow().to_pylist()
    found = {(r["source"], Path(r["file"]).name, r["row"], r["rule"]) for r in rejects}
    assert planted <= found
    # Beyond what was planted, the only findings are consequences the workspace asks for:
    # a phone cleared as invalid is then missing, which portraits.yaml says to flag.
    invalid_phones = {(s, f, r) for s, f, r, rule in planted if rule == "invalid_phone"}
    extra = found - planted
    assert {(s, f, r) for s, f, r, _ in extra} <= invalid_phones
    assert {rule for *_, rule in extra} <= {"missing_value"}
    assert Counter(rule for *_, rule in planted) >= Counter({
        "missing_required": 2, "invalid_phone": 2, "invalid_email": 2, "unparsable_date": 2,
        "age_out_of_range": 2, "future_timestamp": 2, "duplicate": 2, "wrong_field_count": 3,
        "negative_amount": 3, "before_2000": 3, "unparsable_timestamp": 3, "duplicate_key": 3,
        "zero_or_negative_quantity": 3, "rating_out_of_range": 2, "malformed_json": 3})


def test_the_load_keeps_every_good_row(workspace: Path) -> None:
    files = truth(workspace)["files"]
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        loads = {r["source"]: r for r in ws.ingest.loads().to_pyarrow().to_pylist()}
    defects = Counter(d["source"] for d in truth(workspace)["defects"]
                      if d["rule"] not in ("invalid_phone", "invalid_email", "unparsable_date",
                                           "age_out_of_range", "future_timestamp")
                      or d["source"] != "crm")
    assert loads["orders"]["rows_read"] == files["orders.csv"]
    assert loads["orders"]["accepted"] == files["orders.csv"] - defects["orders"]
    assert loads["events"]["accepted"] == files["events/*.parquet"] - defects["events"]
    assert loads["crm"]["accepted"] == files["crm_customers.csv"] - defects["crm"]
    assert loads["products"]["accepted"] == files["products.csv"] - defects["products"]
    assert loads["miniprogram_events"]["accepted"] == files["events/*.jsonl"] - 3
    assert all(load["status"] == "ok" for load in loads.values())


def test_mini_program_lines_are_segment_style_json(workspace: Path) -> None:
    for path in (workspace / "data" / "events").glob("mini-*.jsonl"):
        lines = path.read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines[:-1]]  # the last one is planted broken
        assert all(r["timestamp"].endswith("Z") and "context" in r for r in records)
        assert any(r["context"].get("wechat", {}).get("openid") for r in records)
        with pytest.raises(json.JSONDecodeError):
            json.loads(lines[-1])


def test_the_planted_pairs_are_bought_together(workspace: Path) -> None:
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        items = ws.table("order_items").select("order_id", "product_id").to_pandas()
    baskets = items.groupby("order_id")["product_id"].apply(set)
    for pair in truth(workspace)["bought_together"]:
        with_anchor = baskets[baskets.apply(lambda b, a=pair["anchor"]: a in b)]
        if len(with_anchor) < 10:
            continue
        confidence = with_anchor.apply(lambda b, p=pair["partner"]: p in b).mean()
        support_partner = baskets.apply(lambda b, p=pair["partner"]: p in b).mean()
        assert confidence >= 0.55
        assert confidence / support_partner > 5  # lift


def test_shared_tablets_are_used_by_exactly_their_two_people(workspace: Path) -> None:
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        events = ws.table("events")
        seen = events.filter(events.device_id.startswith("TAB-") & events.user_id.notnull())
        users = seen.group_by("device_id").aggregate(
            users=seen.user_id.collect(distinct=True)).to_pyarrow().to_pylist()
    used = {u["device_id"]: set(u["users"]) for u in users}
    planted = {d["device_id"]: set(d["member_ids"]) for d in truth(workspace)["shared_devices"]}
    assert used and all(used[device] <= planted[device] for device in used)
    assert sum(len(members) == 2 for members in used.values()) >= 1


def test_kiosk_tablets_see_many_members(workspace: Path) -> None:
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        events = ws.table("events")
        kiosks = events.filter(events.device_id.startswith("KIOSK-")).group_by(
            "device_id").aggregate(members=events.user_id.nunique()).to_pyarrow().to_pylist()
    planted = {k["device_id"]: k["members"] for k in truth(workspace)["store_tablets"]}
    assert {k["device_id"]: k["members"] for k in kiosks} == planted
    assert max(planted.values()) > 5


def test_churners_fall_silent_and_fade_before_they_go(workspace: Path) -> None:
    people = pq.read_table(workspace / "data" / "truth" / "people.parquet").to_pandas()
    churners = people[people.churned]
    assert 0.05 < len(churners) / len(people) < 0.2
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        events = ws.table("events").select("user_id", "timestamp").to_pandas()
    events = events.merge(people[["member_id", "churned", "churned_at"]], left_on="user_id",
                          right_on="member_id")
    gone = events[events.churned]
    assert (gone.timestamp.dt.date <= gone.churned_at).all()
    # In the 60 days after the churn date's earliest value, churners are silent.
    quiet_from = churners.churned_at.max()
    assert not ((gone.timestamp.dt.date > quiet_from).any())
    stayers = events[~events.churned]
    assert (stayers.timestamp.dt.date > quiet_from).any()


def test_crm_duplicates_are_the_same_person_with_typos(workspace: Path) -> None:
    pairs = truth(workspace)["crm_duplicates"]
    assert pairs
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        customers = ws.table("customers").to_pandas().set_index("source_id")
    checked = 0
    for pair in pairs:
        if pair["member_id"] not in customers.index:
            continue
        original = customers.loc[pair["member_id"]]
        copy = customers.loc[pair["duplicate_member_id"]]
        assert original.birthday == copy.birthday
        assert original.address != copy.address
        differs = (original["name"] != copy["name"]) or (original.phone != copy.phone)
        assert differs or pair["typo"] == "address"
        checked += 1
    assert checked >= len(pairs) - 2


def test_personas_show_in_what_people_buy(workspace: Path) -> None:
    people = pq.read_table(workspace / "data" / "truth" / "people.parquet").to_pandas()
    signature = {name: set(p["signature"]) for name, p in truth(workspace)["personas"].items()}
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        orders = ws.table("orders").select("order_id", "member_id")
        items = ws.table("order_items")
        products = ws.table("products").select("product_id", "category_path")
        lines = orders.join(items, "order_id").join(products, "product_id").to_pandas()
    lines = lines.merge(people[["member_id", "persona"]], on="member_id")
    for persona, leaves in signature.items():
        if not leaves:
            continue
        mine = lines[lines.persona == persona]
        share = mine.category_path.isin(leaves).mean()
        assert share > 0.5, (persona, share)


def test_junk_identifiers_are_shared_by_several_crm_rows(workspace: Path) -> None:
    junk = truth(workspace)["junk_values"]
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        customers = ws.table("customers")
        rows = customers.filter(customers.phone == junk["phone"]).count().to_pyarrow()
    assert rows.as_py() == len(truth(workspace)["junk_identifiers"]) >= 2


def test_customers_get_city_tiers(workspace: Path) -> None:
    with Workspace(workspace, settings=Settings(now=NOW)) as ws:
        customers = ws.table("customers")
        tiers = customers.filter(customers._source == "crm").city_tier.to_pyarrow()
    assert pc.count(tiers).as_py() == len(tiers)
    assert {"1", "new1", "2"} <= set(tiers.to_pylist())
