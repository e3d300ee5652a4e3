"""``ws.pipeline`` and ``portraits run``: the batch stages in order, timed, incremental."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from portraits.cli.main import app
from portraits.errors import PortraitsError
from portraits.settings import Settings
from portraits.workspace.facade import Workspace
from portraits.workspace.pipeline import STAGES, check_stages
from tests.conftest import NOW

WITHOUT_MODELS = [s for s in STAGES if s not in ("train", "score")]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline") / "shop"
    Workspace.init(root).close()
    with Workspace(root, settings=Settings(now=NOW, lang="en")) as ws:
        ws.synth.generate(customers=400, seed=3)
    return root


def test_the_stages_run_in_pipeline_order_and_say_what_they_made(shop: Path) -> None:
    with Workspace(shop, settings=Settings(now=NOW, lang="en")) as ws:
        started: list[str] = []
        done = ws.pipeline.run(list(reversed(WITHOUT_MODELS)), on_stage=started.append)
        again = ws.pipeline.run(["load", "identity", "tags"])
        profiles = ws.engine.count(ws.table("profiles"))
        tagged = ws.engine.count(ws.table("tags"))
    assert started == [r.stage for r in done] == WITHOUT_MODELS
    runs = {r.stage: r for r in done}
    assert runs["load"].rows > runs["load"].output > 0  # planted bad rows are rejected
    assert runs["identity"].output == profiles == runs["profiles"].output == tagged
    assert runs["profiles"].rows > runs["load"].output / 2  # it read events and orders
    assert runs["tags"].detail.endswith("tags")
    assert runs["segments"].detail == "8 segments"
    assert all(r.seconds > 0 for r in done)
    loaded, resolved, retagged = again  # nothing new: nothing loaded, nobody re-resolved
    assert (loaded.output, resolved.rows, retagged.output) == (0, 0, tagged)


def test_an_unknown_stage_is_named_with_a_hint() -> None:
    with pytest.raises(PortraitsError, match="no stage 'profile' \\(did you mean 'profiles'"):
        check_stages(["load", "profile"])


def test_the_command_prints_a_table_per_stage_in_either_language(shop: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--lang", "zh-CN", "run", str(shop), "-s", "tags",
                                 "-s", "profiles", "--train", "never"])
    assert result.exit_code == 0, result.output
    assert "批处理流水线" in result.output and "画像" in result.output
    assert result.output.index("画像") < result.output.index("标签")
    wrong = runner.invoke(app, ["run", str(shop), "-s", "tag"])
    assert wrong.exit_code == 2
    assert "no stage 'tag'" in wrong.output and "Traceback" not in wrong.output
    assert runner.invoke(app, ["run", str(shop), "--train", "maybe"]).exit_code == 2
