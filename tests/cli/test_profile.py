"""``portraits profile show`` end to end on the hand-made shop of tests/profile/test_lookup.py:
PII masked unless asked, labels in both languages, exit 1 with one line when no single
customer has the identifier."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from portraits.cli.main import app
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from tests.conftest import NOW, WorkspaceFactory
from tests.profile.test_lookup import FILES, SPEC, make_shop

runner = CliRunner()
ENV = {"PORTRAITS_NOW": NOW.isoformat()}
PII = ("13912340001", "王小明", "wang.xm@qq.com", "Wang.XM", "1990-05-17", "文三路")


@dataclass(frozen=True)
class Shop:
    root: Path
    before_profiles: str


def show(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The shop shown once before its profiles are built; then built."""
    from portraits.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main.console, "width", 200)  # Rich folds table cells at 80 columns
        root = make_shop(tmp_path_factory.mktemp("shop-cli"))
        code, before = show("profile", "show", "member_id:M1", "-p", str(root))
        assert code == 0, before
        with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
            ws.profiles.build(ws.identity.customer_ids())
        yield Shop(root, before)


def test_pii_is_masked_by_default(shop: Shop) -> None:
    code, out = show("profile", "show", "139-1234-0001", "-p", str(shop.root))
    assert code == 0, out
    for masked in ("139****0001", "w***@qq.com", "王*明", "1990-**-**", "浙江省杭州市****"):
        assert masked in out
    for secret in PII:
        assert secret not in out
    for panel in ("Demographic / basic (R3.1)", "Behaviour (R3.2)",
                  "Consumption habits (R3.4)", "Interests (R3.3)", "Social (R3.5)",
                  "Customer records", "Identifiers", "Most recent events and orders (6)"):
        assert panel in out
    assert "Found by phone:139****0001" in out and "refunded" in out
    assert "shared: seen with 2 member_id values" in out


def test_show_pii_shows_it(shop: Shop) -> None:
    code, out = show("profile", "show", "WANG.XM@QQ.COM", "-p", str(shop.root), "--show-pii")
    assert code == 0, out
    for secret in ("+8613912340001", "王小明", "wang.xm@qq.com", "1990-05-17", "文三路"):
        assert secret in out


def test_chinese_labels_and_a_shorter_timeline(shop: Shop) -> None:
    code, out = show("--lang", "zh-CN", "profile", "show", "M1", "-p", str(shop.root),
                     "--events", "2")
    assert code == 0, out
    for label in ("客户档案", "人口属性 / 基础属性", "消费习惯", "姓名", "画像完整度",
                  "最近的行为与订单（2 条）", "订单"):
        assert label in out
    assert "refunded" in out and "Product Viewed" not in out


def test_before_profiles_are_built_the_rest_is_shown(shop: Shop) -> None:
    out = shop.before_profiles
    assert "No profile for this customer yet" in out
    assert "139****0001" in out and "Most recent events and orders (6)" in out
    assert "Behaviour (R3.2)" not in out


def test_an_unknown_identifier_is_one_line_and_exit_1(shop: Shop) -> None:
    code, out = show("profile", "show", "139 9999 9999", "-p", str(shop.root))
    assert code == 1
    assert len(out.strip().splitlines()) == 1, out
    assert "no customer has 139****9999" in out
    assert "13999999999" not in out and "Traceback" not in out


def test_a_shared_or_ambiguous_identifier_lists_the_customers(shop: Shop) -> None:
    with Workspace(shop.root, settings=Settings(now=NOW)) as ws:
        wang, li, zhao = (ws.profiles.get(i).customer_id for i in (
            "member_id:M1", "member_id:M2", "store_member_id:M2"))
    code, out = show("profile", "show", "device_id:T", "-p", str(shop.root))
    assert code == 1
    assert "device_id:T is shared" in out and "seen with 2 customers" in out
    assert wang in out and li in out
    code, out = show("profile", "show", "M2", "-p", str(shop.root))
    assert code == 1 and "matches 2 customers" in out
    assert li in out and zhao in out
    code, out = show("--lang", "zh-CN", "profile", "show", "13800000000", "-p",
                     str(shop.root))
    assert code == 1 and "phone:138****0000 为无效值标识" in out


def test_usage_mistakes_exit_2(shop: Shop, make_workspace: WorkspaceFactory) -> None:
    unresolved = make_workspace(SPEC, FILES)
    code, out = show("profile", "show", "M1", "-p", str(unresolved))
    assert code == 2 and "portraits identity resolve" in out
    code, out = show("profile", "show", "phnoe:1", "-p", str(shop.root))
    assert code == 2 and "did you mean 'phone'?" in out


def test_help() -> None:
    code, out = show("--help")
    assert code == 0 and "profile" in out
    code, out = show("profile", "show", "--help")
    assert code == 0
    assert "--show-pii" in out and "138-1234-5678" in out and "C00000042" in out


def test_profile_build_prints_completeness_per_population(tmp_path: Path) -> None:
    from portraits.cli import main

    root = make_shop(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(main.console, "width", 200)
        code, out = show("profile", "build", "-p", str(root))
        assert code == 0, out
        assert "profiles built — completeness" in out
        assert "Customers (" in out and "Overall (mean)" in out
        code, zh = show("--lang", "zh-CN", "profile", "build", "-p", str(root))
    assert code == 0, zh
    assert "份画像 — 完整度" in zh and "注册客户" in zh
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        summary = ws.profiles.completeness().to_pandas()
    overall = summary[(summary.population == "all") & (summary.item == "overall")]
    assert f"{overall.percent.iloc[0]:.1f}%" in out
