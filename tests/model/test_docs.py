"""docs/model.md is generated from the model and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from portraits.model import ENTITIES
from portraits.model.docs import model_markdown


def test_model_docs_are_up_to_date() -> None:
    docs = Path(__file__).parents[2] / "docs" / "model.md"
    assert docs.read_text(encoding="utf-8") == model_markdown(), (
        "regenerate: python -m portraits.model.docs > docs/model.md")


def test_every_entity_has_a_key_of_its_own_fields_and_pii_is_flagged() -> None:
    for ent in ENTITIES.values():
        assert set(ent.key) <= set(ent.field_names), ent.name
    assert ENTITIES["customers"].field("phone").pii
    assert ENTITIES["customers"].field("name").pii
    assert not ENTITIES["customers"].field("city").pii
