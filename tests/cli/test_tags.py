"""``portraits tags run|list|why|history`` and ``portraits segment list|count|overlap|export``
end to end on the hand-made shop of tests/profile/test_lookup.py: 王小明 (M1) has a paid and
a refunded order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from portraits.cli.main import app
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW
from tests.profile.test_lookup import make_shop

runner = CliRunner()
ENV = {"PORTRAITS_NOW": NOW.isoformat()}
SEGMENTS = """\
segments:
  - id: buyers
    name: {en: Buyers, zh-CN: 购买过的客户}
    where: orders >= 1
  - id: prospects
    name: {en: Prospects, zh-CN: 潜在客户}
    where:
      any:
        - tag: prospect
        - not: {expr: "orders >= 1"}
  - id: viewers
    name: {en: Recent viewers, zh-CN: 近期浏览}
    where:
      all:
        - did: {event: Product Viewed, within_days: 3650}
"""


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The shop with profiles built and segments defined; and 王小明's customer id."""
    from portraits.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main.console, "width", 200)  # Rich folds table cells at 80 columns
        root = make_shop(tmp_path_factory.mktemp("shop-tags"))
        (root / "segments").mkdir()
        (root / "segments" / "shop.yaml").write_text(SEGMENTS, encoding="utf-8")
        with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
            ws.profiles.build(ws.identity.customer_ids())
            wang = ws.profiles.get("member_id:M1").customer_id
        yield root, wang


def test_run_prints_tags_and_rfm_then_why_explains_with_values(shop: tuple[Path, str]) -> None:
    root, wang = shop
    code, out = cli("tags", "run", "-p", str(root))
    assert code == 0, out
    assert "Repeat buyer (repeat_buyer)" in out and "RFM segments" in out
    assert "Champions" in out and "Value layers" in out
    code, out = cli("tags", "why", wang, "one_time_buyer", "-p", str(root))
    assert code == 0, out
    assert f"{wang}: yes" in out and "orders == 1" in out and "orders = 1" in out
    code, out = cli("--lang", "zh-CN", "tags", "why", wang, "repeat_buyer", "-p", str(root))
    assert code == 0, out
    assert "复购用户" in out and f"{wang}: 否" in out and "orders = 1" in out
    code, out = cli("tags", "history", "one_time_buyer", "-p", str(root))
    assert code == 0 and "1" in out, out


def test_list_shows_both_languages_and_where_tags_are_defined(shop: tuple[Path, str]) -> None:
    code, out = cli("tags", "list", "-p", str(shop[0]))
    assert code == 0, out
    assert "夜猫子 / Night owl" in out and "library/behaviour.yaml" in out


def test_mistakes_are_one_message_with_a_hint(shop: tuple[Path, str]) -> None:
    root, wang = shop
    code, out = cli("tags", "why", wang, "coupon_lovr", "-p", str(root))
    assert code == 2 and "did you mean 'coupon_lover'?" in out, out
    code, out = cli("segment", "count", "buyer", "-p", str(root))
    assert code == 2 and "did you mean 'buyers'?" in out, out
    code, out = cli("segment", "export", "buyers", str(root / "x.txt"), "-p", str(root))
    assert code == 2 and ".csv, .xlsx, .parquet" in out, out


def test_segments_count_overlap_and_export_masked(shop: tuple[Path, str], tmp_path: Path
                                                  ) -> None:
    root, wang = shop
    code, out = cli("tags", "run", "-p", str(root))
    assert code == 0, out
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        profiles = ws.profiles.table().to_pandas()
    buyers = sorted(profiles.customer_id[profiles.orders.fillna(0) >= 1])
    assert wang in buyers
    code, out = cli("segment", "count", "-p", str(root))
    assert code == 0, out
    assert "buyers" in out and "prospects" in out and "viewers" in out
    code, out = cli("segment", "overlap", "buyers", "prospects", "-p", str(root))
    assert code == 0, out
    assert f"buyers: {len(buyers)}; prospects: {len(profiles) - len(buyers)}; both: 0" in out
    out_file = tmp_path / "buyers.csv"
    code, out = cli("segment", "export", "buyers", str(out_file), "--columns",
                    "customer_id,phone,email,name,orders,rfm_segment", "-p", str(root))
    assert code == 0, out
    rows = pd.read_csv(out_file, encoding="utf-8-sig", dtype=str)
    assert rows.customer_id.tolist() == buyers
    mine = rows[rows.customer_id == wang].iloc[0]
    assert mine.phone == "139****0001" and mine.email == "w***@qq.com"
    assert "13912340001" not in out_file.read_text(encoding="utf-8-sig")
    code, _ = cli("segment", "export", "buyers", str(tmp_path / "b.xlsx"), "--columns",
                  "customer_id,phone", "--show-pii", "-p", str(root))
    assert code == 0
    shown = pd.read_excel(tmp_path / "b.xlsx", dtype=str).set_index("customer_id")
    assert shown.phone[wang] == "+8613912340001"
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        sizes = ws.segments.sizes("buyers").to_pandas()
    assert sizes.customers.tolist() == [len(buyers)]
