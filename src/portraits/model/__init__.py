"""The canonical data model every source is mapped onto."""

from portraits.model.canonical import (
    ENTITIES,
    Entity,
    FieldDef,
    IdType,
    entity,
)
from portraits.model.events import ECOMMERCE_EVENTS

__all__ = ["ECOMMERCE_EVENTS", "ENTITIES", "Entity", "FieldDef", "IdType", "entity"]
