"""docs/tags.md is generated from the tag library and the language; it must not drift."""

from __future__ import annotations

from pathlib import Path

from portraits.tags.catalog import load_tags
from portraits.tags.compute import tag_fields
from portraits.tags.docs import tags_markdown
from portraits.tags.spec import CATEGORIES


def test_tag_docs_are_up_to_date() -> None:
    docs = Path(__file__).parents[2] / "docs" / "tags.md"
    assert docs.read_text(encoding="utf-8") == tags_markdown(), (
        "regenerate: python -m portraits.tags.docs > docs/tags.md")


def test_the_standard_library_has_40_tags_named_in_both_languages() -> None:
    tagset = load_tags(tag_fields())
    assert len(tagset) >= 40
    assert all(t.spec.name.en and t.spec.name.zh and t.spec.description for t in tagset)
    assert {t.spec.category for t in tagset} >= set(CATEGORIES) - {"predicted"}
