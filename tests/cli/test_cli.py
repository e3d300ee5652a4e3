"""The command line end to end: clear messages and exit codes, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from portraits.cli.main import app
from tests.conftest import WorkspaceFactory
from tests.ingest.test_load import CRM, CRM_SPEC

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"PORTRAITS_NOW": "2026-11-01T12:00:00"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())  # Rich wraps long paths


def test_help_lists_the_commands() -> None:
    code, out = invoke("--help")
    assert code == 0
    for command in ("init", "check", "generate", "load", "quality", "demo"):
        assert command in out


def test_init_then_check(tmp_path: Path) -> None:
    code, out = invoke("init", str(tmp_path / "ws"))
    assert code == 0 and "portraits.yaml" in out
    code, out = invoke("check", str(tmp_path / "ws"))
    assert code == 0 and "9 sources" in out
    code, out = invoke("init", str(tmp_path / "ws"))
    assert code == 2 and "already exists" in out


def test_a_bad_spec_is_one_clear_message(make_workspace: WorkspaceFactory) -> None:
    root = make_workspace("version: 1\nname: x\nsorces: []\n")
    code, out = invoke("check", str(root))
    assert code == 2
    assert "did you mean 'sources'?" in out
    assert "Traceback" not in out


def test_load_prints_the_quality_report_and_quality_lists_rejects(
        make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="auto"), {"crm.csv": CRM.encode("gb18030")})
    code, out = invoke("load", str(root))
    assert code == 0, out
    assert "crm" in out and "Invalid phone number" in out
    code, out = invoke("--lang", "zh-CN", "quality", str(root), "--rejects")
    assert code == 0, out
    assert "加载历史" in out and "手机号无效" in out and "1990-13-45" in out


def test_a_missing_file_is_an_error_without_traceback(make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="auto"))
    code, out = invoke("load", str(root))
    assert code == 2
    assert "no file matches 'crm.csv'" in out
    assert "Traceback" not in out


def test_quality_before_any_load(make_workspace: WorkspaceFactory) -> None:
    root = make_workspace(CRM_SPEC.format(encoding="auto"))
    code, out = invoke("quality", str(root))
    assert code == 2 and "nothing has been loaded yet" in out


def test_no_workspace_here(tmp_path: Path) -> None:
    code, out = invoke("load", str(tmp_path))
    assert code == 2 and "portraits init" in out


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_installed_command_starts(lang: str) -> None:
    done = subprocess.run([sys.executable, "-m", "portraits", "--lang", lang, "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "demo" in done.stdout


def test_generate_then_load_then_rejects(tmp_path: Path) -> None:
    invoke("init", str(tmp_path / "shop"))
    code, out = invoke("generate", str(tmp_path / "shop"), "--customers", "150",
                       "--end", "2026-10-31")
    assert code == 0 and "crm_customers.csv" in out and "events/*.parquet" in out
    assert (tmp_path / "shop" / "data" / "truth" / "truth.json").exists()
    code, out = invoke("load", str(tmp_path / "shop"))
    assert code == 0 and "miniprogram_events" in out
    code, out = invoke("--lang", "zh-CN", "quality", str(tmp_path / "shop"), "--rejects")
    assert code == 0 and "字段数不符" in out and "JSON 格式错误" in out


def test_generate_rejects_a_bad_end_date(tmp_path: Path) -> None:
    invoke("init", str(tmp_path / "shop"))
    code, out = invoke("generate", str(tmp_path / "shop"), "--end", "2026年10月")
    assert code == 2 and "--end" in out


def test_demo_builds_a_workspace_from_scratch(tmp_path: Path) -> None:
    code, out = invoke("demo", str(tmp_path / "demo"), "--customers", "300")
    assert code == 0
    assert "Demo finished" in out and "customers" in out and "events" in out
    code, out = invoke("demo", str(tmp_path / "demo"), "--customers", "300")
    assert code == 0, "a second demo run starts afresh"
