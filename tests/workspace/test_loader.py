"""portraits.yaml validation: every problem at once, with file, line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from portraits.errors import SpecError
from portraits.workspace.loader import load_spec
from portraits.workspace.scaffold import create_workspace, template_text
from portraits.workspace.spec import DuckDBEngineSpec

GOOD = """\
version: 1
name: shop
sources:
  - name: crm
    entity: customers
    path: crm.csv
    columns:
      source_id: 会员编号
      phone: 手机号
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "portraits.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_spec_loads_with_defaults(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert isinstance(spec.engine, DuckDBEngineSpec)
    assert spec.source("crm").columns["phone"].column == "手机号"
    assert spec.timezone == "+08:00"


def test_every_problem_is_reported_at_once_with_lines_and_hints(tmp_path: Path) -> None:
    bad = """\
version: 1
name: shop
engin: {kind: duckdb}
sources:
  - name: crm
    entity: customer
    path: crm.csv
    columns:
      source_id: id
  - name: orders
    entity: orders
    path: orders.csv
    colums: {}
"""
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, bad))
    problems = {p.field: p for p in caught.value.problems}
    assert problems["engin"].line == 3
    assert problems["engin"].hint == "did you mean 'engine'?"
    assert problems["sources[0].entity"].line == 6
    assert problems["sources[0].entity"].hint == "did you mean 'customers'?"
    assert problems["sources[1].colums"].line == 13
    assert problems["sources[1].colums"].hint == "did you mean 'columns'?"
    assert problems["sources[1].columns"].message == "required setting is missing"
    assert "portraits.yaml:3" in str(caught.value)


def test_unknown_canonical_fields_and_unmapped_required_fields(tmp_path: Path) -> None:
    gender = "gender: {column: 性别, map: {男: mael}}"
    bad = GOOD.replace("phone: 手机号", f"phnoe: 手机号\n      {gender}")
    bad = bad.replace("source_id: 会员编号", "name: 姓名")
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, bad))
    messages = [str(p) for p in caught.value.problems]
    assert any("'phnoe' is not a field of customers" in m and "did you mean 'phone'?" in m
               for m in messages)
    assert any("required field 'source_id'" in m for m in messages)
    assert any("'mael'" in m and "did you mean 'male'?" in m for m in messages)
    lines = {p.line for p in caught.value.problems}
    assert 9 in lines  # the line of 'phnoe'


def test_cleaning_rules_must_name_mapped_fields(tmp_path: Path) -> None:
    bad = GOOD + "    cleaning:\n      dedupe: {keys: [phnoe]}\n      missing: {emial: drop}\n"
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, bad))
    hints = [p.hint for p in caught.value.problems]
    assert "did you mean 'phone'?" in hints
    assert "did you mean 'email'?" in hints


def test_engine_settings_are_checked_per_kind(tmp_path: Path) -> None:
    bad = GOOD.replace("name: shop", "name: shop\nengine: {kind: spark, mastr: \"local[2]\"}")
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, bad))
    (problem,) = caught.value.problems
    assert problem.line == 3
    assert problem.hint == "did you mean 'master'?"


def test_yaml_syntax_errors_have_a_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(write(tmp_path, "name: [unclosed\nsources: 3\n"))
    assert caught.value.problems[0].line is not None


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="portraits init"):
        load_spec(tmp_path / "portraits.yaml")


def test_init_writes_the_retail_template_which_is_valid(tmp_path: Path) -> None:
    spec_path = create_workspace(tmp_path / "ws")
    spec = load_spec(spec_path)
    assert {s.entity for s in spec.sources} >= {"customers", "orders", "order_items",
                                                "products", "events", "reviews", "consents"}
    assert (tmp_path / "ws" / "tags").is_dir()


def test_the_example_workspace_is_the_packaged_template() -> None:
    example = Path(__file__).parents[2] / "examples" / "retail" / "portraits.yaml"
    assert example.read_text(encoding="utf-8") == template_text()
