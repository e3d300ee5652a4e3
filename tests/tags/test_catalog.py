"""The tag catalog: the standard library merged with a workspace's tag files, checked, in
dependency order, with every problem reported at once (file, line, setting and hint)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from portraits.errors import Problem, SpecError
from portraits.tags.catalog import TagSet, library_files, load_tags
from portraits.tags.compute import field_values, tag_fields
from portraits.tags.expr import FUNCTIONS, Kind
from portraits.tags.spec import RuleTag

FIELDS: dict[str, Kind] = tag_fields()
STANDARD = 57


def rule(tag_id: str, when: str, indent: str = "  ") -> str:
    """One rule tag as an item of ``tags:`` (six lines: id on the first)."""
    return (f"{indent}- id: {tag_id}\n"
            f"{indent}  name: {{en: {tag_id}, zh-CN: {tag_id}}}\n"
            f"{indent}  category: behaviour\n"
            f"{indent}  kind: rule\n"
            f"{indent}  when: {when}\n"
            f"{indent}  owner: tests\n")


def problems_of(workspace: Sequence[tuple[str, str]],
                standard: Sequence[tuple[str, str]] | None = None) -> tuple[Problem, ...]:
    """The problems :func:`load_tags` reports."""
    with pytest.raises(SpecError) as caught:
        load_tags(FIELDS, workspace, standard)
    return caught.value.problems


def test_the_standard_library_loads_in_dependency_order() -> None:
    tagset = load_tags(FIELDS)
    assert len(tagset) == STANDARD
    assert len({t.id for t in tagset}) == STANDARD
    assert tagset.disabled == ()
    assert {t.file for t in tagset} == {name for name, _ in library_files()}
    assert all(t.line is not None for t in tagset)
    assert_in_order(tagset)


def assert_in_order(tagset: TagSet) -> None:
    position = {t.id: i for i, t in enumerate(tagset)}
    for tag in tagset:
        for name in tag.reads() & set(position):
            assert position[name] < position[tag.id], f"{tag.id} reads {name}, listed later"


def test_a_workspace_tag_replaces_the_standard_tag_of_its_id() -> None:
    tagset = load_tags(FIELDS, [("tags/vip.yaml", "tags:\n" + rule("vip", "orders >= 10"))])
    assert len(tagset) == STANDARD
    vip = tagset.get("vip")
    assert (vip.file, vip.line) == ("tags/vip.yaml", 2)
    assert isinstance(vip.spec, RuleTag)
    assert (vip.spec.when, vip.spec.owner) == ("orders >= 10", "tests")
    assert vip.reads() == {"orders"}   # the standard vip read value_layer
    assert load_tags(FIELDS).get("vip").reads() == {"value_layer", "member_level",
                                                    "days_since_last_order"}


def test_workspace_tags_are_added_after_the_standard_ones_they_read() -> None:
    workspace = [("tags/mine.yaml", "tags:\n" + rule("vip_at_risk", "vip and churn_warning")
                  + rule("big_fan", "beauty_fan or fashion_fan"))]
    tagset = load_tags(FIELDS, workspace)
    assert len(tagset) == STANDARD + 2
    assert tagset.get("vip_at_risk").file == "tags/mine.yaml"
    assert tagset.get("big_fan").line == 8
    assert_in_order(tagset)


def test_a_tag_comes_after_the_tags_it_reads_whatever_the_file_order() -> None:
    text = "tags:\n" + rule("c", "b and orders > 1") + rule("b", "a or d") + rule(
        "a", "orders > 3") + rule("d", "vip")
    tagset = load_tags(FIELDS, [("tags/x.yaml", text)])
    ids = [t.id for t in tagset]
    assert ids.index("a") < ids.index("b") < ids.index("c")
    assert ids.index("vip") < ids.index("d") < ids.index("b")
    assert ids.index("value_layer") < ids.index("vip")
    assert_in_order(tagset)


def test_disable_switches_standard_tags_off() -> None:
    tagset = load_tags(FIELDS, [("tags/off.yaml", "disable: [night_owl, engagement]\n")])
    assert len(tagset) == STANDARD - 2
    assert tagset.disabled == ("engagement", "night_owl")
    assert "night_owl" not in tagset.kinds()
    assert ("active_days", None, 30) in load_tags(FIELDS).windows()
    assert ("orders", None, 90) in tagset.windows()   # frequent_buyer still reads it


def test_enabled_false_switches_a_tag_off() -> None:
    text = "tags:\n" + rule("night_owl", "sessions >= 3") + "    enabled: false\n"
    tagset = load_tags(FIELDS, [("tags/off.yaml", text)])
    assert tagset.disabled == ("night_owl",)
    assert len(tagset) == STANDARD - 1


def test_getting_a_switched_off_tag_says_it_is_switched_off() -> None:
    tagset = load_tags(FIELDS, [("tags/off.yaml", "disable: [night_owl]\n")])
    with pytest.raises(SpecError) as caught:
        tagset.get("night_owl")
    assert caught.value.problems == (Problem(
        "no tag 'night_owl'", hint="it is switched off in the workspace's tags/"),)
    with pytest.raises(SpecError) as caught:
        tagset.get("nigth_owl")
    assert caught.value.problems[0].hint is None   # the switched-off one is not suggested
    with pytest.raises(SpecError) as caught:
        tagset.get("weekend_shoper")
    assert caught.value.problems[0].hint == "did you mean 'weekend_shopper'?"


def test_reading_a_switched_off_tag_is_a_problem() -> None:
    text = "disable: [reachable]\ntags:\n" + rule("contactable_vip", "vip and reachable")
    problems = problems_of([("tags/x.yaml", text)])
    assert {(p.file, p.line, p.field, p.message) for p in problems} == {
        ("tags/x.yaml", 3, "contactable_vip", "reads tag 'reachable', which is switched off"),
        ("library/value.yaml", next(t.line for t in load_tags(FIELDS)
                                    if t.id == "win_back_target"),
         "win_back_target", "reads tag 'reachable', which is switched off")}
    assert all(p.hint and "switch 'reachable' back on" in p.hint for p in problems)


def test_switching_off_an_unknown_tag_suggests_the_closest() -> None:
    problems = problems_of([("tags/off.yaml", "disable:\n  - night_owl\n  - nigth_owl\n")])
    assert problems == (Problem("cannot switch off 'nigth_owl': no such tag", "tags/off.yaml",
                                3, "disable", "did you mean 'night_owl'?"),)


def test_an_unknown_field_names_file_line_column_and_the_closest_field() -> None:
    text = "# my tags\ntags:\n" + rule("loyal", "orders >= 3") + rule("heavy", "ordrs >= 3")
    problems = problems_of([("tags/mine.yaml", text)])
    assert problems == (Problem("unknown field 'ordrs' at column 1", "tags/mine.yaml", 9,
                                "heavy.when", "did you mean 'orders'?"),)
    assert str(problems[0]) == ("tags/mine.yaml:9: heavy.when: unknown field 'ordrs' at "
                                "column 1 (did you mean 'orders'?)")


def test_a_tag_is_checked_against_other_tags_too() -> None:
    problems = problems_of([("tags/a.yaml", "tags:\n" + rule("a", "orders > 1 and vipp"))])
    assert [(p.message, p.hint) for p in problems] == [
        ("unknown field 'vipp' at column 16", "did you mean 'vip'?")]


def test_every_problem_of_every_file_is_reported_at_once() -> None:
    first = "tags:\n" + rule("a", "orders >= 3 and citty == '1'")
    second = "tags:\n" + rule("b", "orders(0) > 1") + rule("c", "orders > 1")
    with pytest.raises(SpecError) as caught:
        load_tags(FIELDS, [("tags/1.yaml", first), ("tags/2.yaml", second)])
    problems = caught.value.problems
    assert problems == (
        Problem("unknown field 'citty' at column 17", "tags/1.yaml", 2, "a.when",
                "did you mean 'city'?"),
        Problem("orders(): the number of days must be a whole number from 1 to 3650 at "
                "column 8", "tags/2.yaml", 2, "b.when", FUNCTIONS["orders"].doc))
    assert str(caught.value).startswith("2 problems in the workspace definition:\n  - ")


def test_syntax_errors_of_every_file_are_reported_at_once() -> None:
    first = "tags:\n" + rule("a", "orders >=")
    second = "tags:\n" + rule("b", "orders > 1") + rule("c", "x.y == 1")
    problems = problems_of([("tags/1.yaml", first), ("tags/2.yaml", second)])
    assert [(p.file, p.line, p.field, p.message) for p in problems] == [
        ("tags/1.yaml", 2, "a.when", "cannot read the condition: invalid syntax at column 10"),
        ("tags/2.yaml", 8, "c.when", "an attribute ('.') is not allowed in a condition at "
                                     "column 1")]


def test_a_yaml_syntax_error_has_its_line_and_the_other_files_are_still_checked() -> None:
    broken = "tags:\n" + rule("a", "orders > 1") + "  - id: [b\n"
    problems = problems_of([("tags/broken.yaml", broken),
                            ("tags/ok.yaml", "disable: [no_such_tag]\n")])
    assert len(problems) == 2
    assert problems[0].file == "tags/broken.yaml"
    assert problems[0].message.startswith("not valid YAML: ")
    assert problems[0].line == 9
    assert problems[1].message == "cannot switch off 'no_such_tag': no such tag"


def test_an_unknown_setting_suggests_the_closest() -> None:
    text = "tags:\n" + rule("a", "orders > 1").replace("when:", "wehn:")
    problems = problems_of([("tags/a.yaml", text)])
    assert Problem("unknown setting", "tags/a.yaml", 6, "tags.0.wehn",
                   "did you mean 'when'?") in problems
    assert Problem("required setting is missing", "tags/a.yaml", 2, "tags.0.when") in problems


def test_an_unknown_setting_in_a_nested_mapping_suggests_the_closest() -> None:
    text = """\
tags:
  - id: size
    name: {en: Size, zh-CN: 规模}
    category: consumption
    kind: bucket
    of: orders
    ranges:
      - {label: small, mx: 3}
"""
    problems = problems_of([("tags/a.yaml", text)])
    assert problems == (Problem("unknown setting", "tags/a.yaml", 8,
                                "tags.0.ranges.0.mx", "did you mean 'max'?"),)


def test_a_file_may_hold_a_single_tag() -> None:
    single = rule("a", "orders > 1", indent="").replace("- id", "id").replace("\n  ", "\n")
    tagset = load_tags(FIELDS, [("tags/a.yaml", single)], standard=[])
    assert [(t.id, t.file) for t in tagset] == [("a", "tags/a.yaml")]
    problems = problems_of([("tags/a.yaml", single.replace("when:", "wehn:"))], standard=[])
    assert Problem("unknown setting", "tags/a.yaml", 5, "wehn", "did you mean 'when'?") \
        in problems


def test_a_cycle_between_two_tags_is_refused() -> None:
    text = "tags:\n" + rule("a", "b and orders > 1") + rule("b", "a or vip")
    problems = problems_of([("tags/a.yaml", text)])
    assert len(problems) == 1
    cycle = problems[0]
    assert cycle.file == "tags/a.yaml"
    assert cycle.message in ("tags read each other in a cycle: a → b → a",
                             "tags read each other in a cycle: b → a → b")
    assert (cycle.field, cycle.line) in (("a", 2), ("b", 8))


def test_a_tag_reading_itself_is_a_cycle() -> None:
    problems = problems_of([("tags/a.yaml", "tags:\n" + rule("a", "a or orders > 1"))])
    assert [p.message for p in problems] == ["tags read each other in a cycle: a → a"]


@pytest.mark.parametrize("tag_id", ["spend", "city_tier", "rfm_r"])
def test_a_tag_id_that_is_a_field_is_refused(tag_id: str) -> None:
    problems = problems_of([("tags/a.yaml", "tags:\n" + rule(tag_id, "orders > 1"))])
    assert problems == (Problem(f"tag id '{tag_id}' is also a profile field; choose another",
                                "tags/a.yaml", 2, "id"),)


def test_a_tag_defined_twice_in_the_workspace_is_refused() -> None:
    first = "tags:\n" + rule("a", "orders > 1")
    problems = problems_of([("tags/1.yaml", first), ("tags/2.yaml", first)])
    assert problems == (Problem("tag 'a' is defined twice", "tags/2.yaml", 2, "tags[0].id",
                                "first in tags/1.yaml"),)


@pytest.mark.parametrize(("tag_id", "yaml", "message"), [
    ("a", "tags:\n" + rule("a", "orders + 1"), "must be a condition, not number"),
    ("b", """\
tags:
  - id: b
    name: {en: B, zh-CN: B}
    category: basic
    kind: bucket
    of: city
    ranges: [{label: low, max: 3}]
""", "must be a number, not string"),
])
def test_a_condition_of_the_wrong_kind_is_refused(tag_id: str, yaml: str, message: str) -> None:
    problems = problems_of([("tags/a.yaml", yaml)])
    assert [(p.field, p.message) for p in problems] == [
        (f"{tag_id}.{'when' if tag_id == 'a' else 'of'}", message)]


def test_an_id_that_is_no_column_name_is_refused() -> None:
    problems = problems_of([("tags/a.yaml", "tags:\n" + rule("High-Value", "orders > 1"))])
    assert len(problems) == 1
    assert (problems[0].line, problems[0].field) == (2, "tags.0.id")
    assert problems[0].message.startswith("a tag id is lower-case letters")


def test_problems_of_a_single_tag_file_have_a_line() -> None:
    single = rule("a", "ordrs > 1", indent="").replace("- id", "id").replace("\n  ", "\n")
    problems = problems_of([("tags/a.yaml", single)], standard=[])
    assert [(p.line, p.field) for p in problems] == [(1, "a.when")]


def test_text_compared_with_an_enumerated_field_or_a_label_tag_must_be_one_of_its_values(
) -> None:
    mistakes = {
        "marital_status == '已婚'": ("'已婚' is not a value of marital_status",
                                     "its values: single, married, divorced, widowed"),
        "value_layer == 'high_valu'": ("'high_valu' is not a value of value_layer",
                                       "did you mean 'high_value'?"),
        "city_tier in ['1', 'tier2']": ("'tier2' is not a value of city_tier", None),
        "'mobil' != main_device_type": ("'mobil' is not a value of main_device_type",
                                        "did you mean 'mobile'?"),
    }
    for condition, (message, hint) in mistakes.items():
        text = ("tags:\n  - id: mine\n    name: {en: Mine, zh-CN: 我的}\n    category: basic\n"
                f"    kind: rule\n    when: \"{condition}\"\n")
        with pytest.raises(SpecError) as caught:
            load_tags(tag_fields(), [("tags/mine.yaml", text)], values=field_values())
        (problem,) = caught.value.problems
        assert message in problem.message and problem.line == 2, condition
        if hint is not None:
            assert problem.hint == hint, condition
    fine = ("tags:\n  - id: mine\n    name: {en: Mine, zh-CN: 我的}\n    category: basic\n"
            "    kind: rule\n    when: \"marital_status == 'married' and value_layer != 'lost' "
            "and contains(city, '京')\"\n")
    assert len(load_tags(tag_fields(), [("tags/mine.yaml", fine)], values=field_values())) > 40
