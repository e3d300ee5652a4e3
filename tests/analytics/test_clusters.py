"""Clustering on the synthetic shop: the planted personas come back, k follows the stated
criterion, the same seed gives the same clusters, numeric-only and categorical-only
features work; a cluster saved as a segment counts its members and loads back."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import adjusted_rand_score

from portraits.analytics.clusters import MIN_SHARE, Clustering, analyze_clusters
from portraits.errors import PortraitsError, SpecError
from portraits.segments.spec import SegmentSpec
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.analytics.conftest import Shop
from tests.conftest import NOW

# The top-level categories each persona was planted with (truth.json signatures).
SIGNATURES = {"deal_hunter": {"食品", "家居"}, "tech_enthusiast": {"数码"},
              "mother_baby": {"母婴"}, "loyalist": {"美妆", "服饰", "家居"}}
# Measured with the default features and seed: ARI 0.286 (k = 8). A persona that is only
# "occasional" buying is noise by design, which bounds what any clustering can recover.
ARI_FLOOR = 0.25


@pytest.fixture(scope="module")
def clustering(shop: Shop) -> Clustering:
    with shop.open() as ws:
        base = ws.profiles.table().join(ws.tags.table(), "customer_id")
        return analyze_clusters(base, ws.engine.to_arrow)


@pytest.fixture(scope="module")
def personas(shop: Shop) -> pd.DataFrame:
    people = pq.read_table(shop.root / "data" / "truth" / "people.parquet",
                           columns=["person_id", "persona"]).to_pandas()
    return pd.DataFrame(people.rename(columns={"person_id": "customer_id"}))


def test_clusters_recover_the_planted_personas(clustering: Clustering,
                                               personas: pd.DataFrame) -> None:
    found = clustering.assignments.to_pandas().merge(personas, on="customer_id")
    assert len(found) == 1500
    assert adjusted_rand_score(found["persona"], found["cluster"]) >= ARI_FLOOR
    for persona, categories in SIGNATURES.items():
        home = int(found[found["persona"] == persona]["cluster"].mode().iloc[0])
        words = clustering.line(home, "en")
        assert any(c in words for c in categories), (persona, words)


def test_k_is_the_highest_silhouette_among_eligible_k(clustering: Clustering) -> None:
    scores = clustering.selection()
    assert list(scores["k"]) == list(range(2, 9))
    assert list(scores["eligible"]) == list(scores["smallest_share"] >= MIN_SHARE)
    eligible = scores[scores["eligible"]]
    best = int(eligible["k"].to_numpy()[eligible["silhouette"].to_numpy().argmax()])
    assert clustering.k == best == int(scores[scores["chosen"]]["k"].iloc[0])
    assert scores["chosen"].sum() == 1


def test_clusters_are_numbered_by_size_and_summarised(clustering: Clustering) -> None:
    table = clustering.to_pandas()
    assert list(table["cluster"]) == list(range(1, clustering.k + 1))
    assert list(table["size"]) == sorted(table["size"], reverse=True)
    assert table["size"].sum() == 1500 and table["share"].sum() == pytest.approx(1.0)
    counts = clustering.assignments.to_pandas()["cluster"].value_counts().sort_index()
    assert list(counts) == list(table["size"])
    en, zh = clustering.summary("en"), clustering.summary("zh-CN")
    assert len(en) == len(zh) == clustering.k
    assert en[0].startswith(f"Cluster 1 ({table['share'][0]:.0%}): ")
    assert zh[0].startswith(f"第 1 类（{table['share'][0]:.0%}）：")
    assert "×" in en[0] and "×" in zh[0]
    described = clustering.describe(2)
    assert described.size == table["size"][1] and described.base_size == 1500
    with pytest.raises(PortraitsError, match="clusters are 1 to"):
        clustering.describe(clustering.k + 1)


def test_features_are_encoded_as_stated(clustering: Clustering) -> None:
    kinds = clustering.encoding().set_index("feature")
    assert kinds.loc["interests", "kind"] == "list"
    assert kinds.loc["interests", "columns"] == 7  # one yes/no column per category
    assert kinds.loc["gender", "kind"] == "category"
    assert kinds.loc["orders", "kind"] == "log number"  # counts are skewed
    assert kinds.loc["age", "kind"] == "number"
    # coupon use is missing for everyone without an order: indicator; night share is
    # missing for other people (no visit), so it gets its own
    assert bool(kinds.loc["coupon_use_rate", "missing_indicator"])


def test_the_same_seed_gives_the_same_clusters(shop: Shop) -> None:
    with shop.open() as ws:
        base = ws.profiles.table().join(ws.tags.table(), "customer_id")
        runs = [analyze_clusters(base, ws.engine.to_arrow, k_range=(3, 5), seed=7,
                                 sample=1000) for _ in range(2)]
    first, second = (r.assignments for r in runs)
    assert first.equals(second)
    assert runs[0].selection().equals(runs[1].selection())


def test_numeric_only_and_categorical_only_features(shop: Shop) -> None:
    with shop.open() as ws:
        base = ws.profiles.table().join(ws.tags.table(), "customer_id")
        numbers = analyze_clusters(base, ws.engine.to_arrow, k=3,
                                   features=["orders", "spend", "sessions", "age"])
        labels = analyze_clusters(base, ws.engine.to_arrow, k_range=(2, 4),
                                  features=["gender", "city_tier", "vip", "top_interest"])
        with pytest.raises(PortraitsError, match="timestamp or id"):
            analyze_clusters(base, ws.engine.to_arrow, features=["registered_at"])
        with pytest.raises(PortraitsError, match="did you mean 'orders'"):
            analyze_clusters(base, ws.engine.to_arrow, features=["orderz"])
    assert numbers.k == 3 and sum(numbers.sizes) == 1500
    assert {e.kind for e in numbers.encodings} <= {"number", "log number"}
    assert 2 <= labels.k <= 4 and sum(labels.sizes) == 1500
    assert {e.kind for e in labels.encodings} == {"category"}
    assert labels.selection()["chosen"].sum() == 1


def test_the_chart_is_a_scatter_that_draws(clustering: Clustering, tmp_path: Path) -> None:
    chart = clustering.chart("zh-CN")
    assert chart.kind == "scatter"
    assert len(chart.option["series"]) == clustering.k
    assert chart.option["xAxis"]["name"].startswith("主成分 1")
    assert f"k = {clustering.k}" in chart.option["title"]["subtext"]
    png = clustering.save_chart(tmp_path / "clusters.png", lang="en")
    assert png.read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------- a cluster saved as a segment


@pytest.fixture
def workspace(shop: Shop, tmp_path: Path) -> Iterator[Workspace]:
    """A copy of the shop, so saved lists and segment files stay in this test."""
    root = tmp_path / "shop"
    shutil.copytree(shop.root, root, ignore=shutil.ignore_patterns("data"))
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        yield ws


def test_a_cluster_saved_as_a_segment_counts_its_members(clustering: Clustering,
                                                         workspace: Workspace) -> None:
    names, description = clustering.segment_texts(2)
    path = workspace.segments.save_list("cluster_2", clustering.members(2),
                                        segment_id="cluster_two", names=names,
                                        description=description)
    assert path == workspace.root / "segments" / "cluster_two.yaml"
    assert workspace.segments.count("cluster_two") == clustering.sizes[1]
    loaded = workspace.segments.catalog()["cluster_two"].spec
    assert loaded.name.zh == "第 2 类" and loaded.description == description
    assert loaded.lists() == {"cluster_2"}
    members = set(workspace.engine.to_arrow(workspace.segments.members("cluster_two"))
                  .column("customer_id").to_pylist())
    assert members == set(clustering.members(2).column("customer_id").to_pylist())
    saved = workspace.engine.to_arrow(workspace.segments.lists()).to_pylist()
    assert [(r["list"], r["customers"]) for r in saved] == [("cluster_2", clustering.sizes[1])]


def test_a_list_combines_with_other_conditions_and_is_replaced(
        clustering: Clustering, workspace: Workspace) -> None:
    ws = workspace
    ws.segments.save_list("cluster_1", clustering.members(1))
    vip = SegmentSpec.model_validate({"id": "cluster_1_vips", "name": {
        "en": "VIPs of cluster 1", "zh-CN": "第 1 类中的 VIP"}, "where": {
        "all": [{"list": "cluster_1"}, {"tag": "vip"}]}})
    by_hand = ws.engine.to_arrow(ws.tags.table().filter(ibis._.vip).select("customer_id"))
    vips = set(by_hand.column("customer_id").to_pylist())
    cluster = set(clustering.members(1).column("customer_id").to_pylist())
    assert ws.segments.count(vip, record=False) == len(vips & cluster)
    with pytest.raises(PortraitsError, match="already defined"):
        ws.segments.save_list("cluster_1", clustering.members(2))
    ws.segments.save_list("cluster_1", clustering.members(2), replace=True)
    assert ws.segments.count("cluster_1", record=False) == clustering.sizes[1]
    with pytest.raises(PortraitsError, match=r"already defined in .*examples\.yaml"):
        ws.segments.save_list("vip_list", clustering.members(3),
                              segment_id="young_mothers_tier1", replace=True)


def test_an_unknown_list_is_an_error_with_a_hint(workspace: Workspace) -> None:
    ws = workspace
    with pytest.raises(SpecError, match="save one with"):
        ws.segments.count(SegmentSpec.model_validate({
            "id": "nobody", "name": {"en": "x", "zh-CN": "x"}, "where": {"list": "missing"}}))
    ws.segments.save_list("cluster_9", ibis.memtable({"customer_id": ["P0000001"]}))
    with pytest.raises(SpecError, match="did you mean 'cluster_9'"):
        ws.segments.count(SegmentSpec.model_validate({
            "id": "nobody", "name": {"en": "x", "zh-CN": "x"}, "where": {"list": "cluster_8"}}))
    with pytest.raises(ValueError, match="list id is lower-case"):
        SegmentSpec.model_validate({"id": "x", "name": {"en": "x", "zh-CN": "x"},
                                    "where": {"list": "Cluster 9"}})
