"""docs/profiles.md is generated from the profile schema and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from portraits.profile import COMPLETENESS_FIELDS, PROFILE_FIELDS
from portraits.profile.docs import profiles_markdown


def test_profile_docs_are_up_to_date() -> None:
    docs = Path(__file__).parents[2] / "docs" / "profiles.md"
    assert docs.read_text(encoding="utf-8") == profiles_markdown(), (
        "regenerate: python -m portraits.profile.docs > docs/profiles.md")


def test_every_field_is_documented_in_both_languages_and_completeness_uses_real_fields() -> None:
    names = [f.name for f in PROFILE_FIELDS]
    assert len(names) == len(set(names))
    assert all(f.en and f.zh and f.how for f in PROFILE_FIELDS)
    assert set(COMPLETENESS_FIELDS) - {"contactable"} <= set(names)
