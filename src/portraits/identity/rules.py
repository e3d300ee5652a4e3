"""Identity rules: the built-in defaults per identifier type, merged with the workspace's.

``portraits.yaml`` may say nothing about identity; every identifier type then follows the
defaults below (documented in docs/identity.md). What it does say overrides them setting
by setting. The result, :class:`IdentityRules`, is what the core functions take.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from portraits.errors import did_you_mean
from portraits.model.canonical import ENTITIES, Entity, IdType
from portraits.workspace.spec import IdentitySpec, IdentityTypeSpec

TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# Values that mean "no value" in any identifier field, compared in lower case.
PLACEHOLDERS: tuple[str, ...] = ("null", "none", "nil", "nan", "unknown", "undefined", "n/a",
                                 "na", "0", "-", "--", "test")
_SAME_DIGIT = "|".join(f"{d}{{11}}" for d in "0123456789")


@dataclass(frozen=True)
class TypeDefault:
    """The built-in rules of one identifier type."""

    priority: int
    max_people: int = 0
    junk: tuple[str, ...] = ()
    junk_patterns: tuple[str, ...] = ()
    normalize: tuple[str, ...] = ("trim",)
    person: bool = True


_BUILTIN: dict[IdType, TypeDefault] = {
    IdType.MEMBER_ID: TypeDefault(100),
    IdType.USER_ID: TypeDefault(95),
    IdType.WECHAT_UNIONID: TypeDefault(90),
    IdType.PHONE: TypeDefault(
        80, max_people=3,
        junk=("+8613800000000", "+8613800138000", "+8611111111111", "+8612345678901",
              "13800000000", "13800138000", "11111111111", "12345678901"),
        junk_patterns=(rf"^\+?(86)?({_SAME_DIGIT})$",)),
    IdType.EMAIL: TypeDefault(
        70, max_people=3,
        junk=("test@test.com", "test@example.com", "a@a.com", "none@none.com",
              "noemail@noemail.com", "no@email.com"),
        junk_patterns=(r"@(example|test)\.(com|org|net)$",),
        normalize=("trim", "lower")),
    IdType.STORE_MEMBER_ID: TypeDefault(60),
    IdType.WECHAT_OPENID: TypeDefault(50, max_people=1),
    IdType.DEVICE_ID: TypeDefault(
        30, max_people=1,
        junk=("00000000-0000-0000-0000-000000000000", "9774d56d682e549c"),
        junk_patterns=(r"^[0-]+$",), person=False),
    IdType.ANONYMOUS_ID: TypeDefault(20, max_people=1, junk_patterns=(r"^[0-]+$",),
                                     person=False),
}
DEFAULTS: dict[str, TypeDefault] = {t.value: rule for t, rule in _BUILTIN.items()}


@dataclass(frozen=True)
class TypeRule:
    """The effective rules of one identifier namespace.

    Attributes:
        name: The namespace (a type that is not ``same_as`` another).
        priority: Higher wins.
        max_people: Distinct values of any one higher-priority type an identifier may be
            seen with before it counts as shared; 0 means no limit.
        junk: Placeholder values, in lower case.
        junk_patterns: Regular expressions for placeholder values.
        normalize: Steps applied to every value, in order.
        person: Whether a value stands for one person (a member id, a phone), so that
            ``max_people`` of lower types counts it; devices and cookies do not.
    """

    name: str
    priority: int
    max_people: int
    junk: tuple[str, ...]
    junk_patterns: tuple[str, ...]
    normalize: tuple[str, ...]
    person: bool


@dataclass(frozen=True)
class IdentityRules:
    """Rules for every identifier namespace, and which field carries which type.

    Attributes:
        types: Rules per namespace.
        aliases: Every known type name → its namespace (itself unless ``same_as``).
        fields: ``(entity, field)`` → type name, for the fields the workspace re-types.
    """

    types: dict[str, TypeRule]
    aliases: dict[str, str]
    fields: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: IdentitySpec | None = None) -> IdentityRules:
        """The defaults with the workspace's ``identity:`` settings applied.

        Example:
            >>> rules = IdentityRules.from_spec()
            >>> rules.types["phone"].max_people
            3
        """
        spec = spec or IdentitySpec()
        declared = {name: spec.types.get(name, IdentityTypeSpec())
                    for name in [*DEFAULTS, *spec.types]}
        aliases = {name: _namespace(name, declared) for name in declared}
        types = {name: _rule(name, DEFAULTS.get(name), declared[name])
                 for name in declared if aliases[name] == name}
        fields = {tuple(key.split(".", 1)): value for key, value in spec.fields.items()}
        return cls(types, aliases, fields)  # type: ignore[arg-type]

    def namespace(self, type_name: str) -> str:
        """The namespace a type's values belong to."""
        return self.aliases[type_name]

    def identifier_fields(self, ent: Entity) -> list[tuple[str, TypeRule]]:
        """Fields of ``ent`` that carry an identifier, with their rules, highest priority
        first (ties in field order)."""
        found: list[tuple[str, TypeRule]] = []
        for f in ent.fields:
            declared = self.fields.get((ent.name, f.name)) or (
                str(f.identifier) if f.identifier is not None else None)
            if declared is not None:
                found.append((f.name, self.types[self.aliases[declared]]))
        return sorted(found, key=lambda pair: -pair[1].priority)

    def priority(self, namespace: str) -> int:
        """Priority of a namespace (types no rule names rank lowest)."""
        rule = self.types.get(namespace)
        return rule.priority if rule is not None else -1


def _namespace(name: str, declared: dict[str, IdentityTypeSpec]) -> str:
    seen = {name}
    while (target := declared[name].same_as) is not None and target in declared:
        if target in seen:
            break  # a cycle; reported by identity_problems
        seen.add(target)
        name = target
    return name


def _rule(name: str, default: TypeDefault | None, given: IdentityTypeSpec) -> TypeRule:
    base = default or TypeDefault(priority=0)
    builtin = given.builtin_junk and default is not None
    return TypeRule(
        name=name,
        priority=given.priority if given.priority is not None else base.priority,
        max_people=given.max_people if given.max_people is not None else base.max_people,
        junk=tuple(dict.fromkeys(v.strip().lower() for v in (
            *(PLACEHOLDERS if given.builtin_junk else ()), *(base.junk if builtin else ()),
            *given.junk))),
        junk_patterns=(*(base.junk_patterns if builtin else ()), *given.junk_patterns),
        normalize=given.normalize if given.normalize is not None else base.normalize,
        person=given.person if given.person is not None else base.person,
    )


def identity_problems(spec: IdentitySpec) -> Iterator[tuple[list[int | str], str, str | None]]:
    """What is wrong with an ``identity:`` section: (location, message, hint) triples."""
    known = [*DEFAULTS, *spec.types]
    for name, given in spec.types.items():
        where: list[int | str] = ["identity", "types", name]
        if not TYPE_NAME.match(name):
            yield where, f"'{name}' is not a type name (lower-case letters, digits and _)", None
        if name not in DEFAULTS and given.same_as is None and given.priority is None:
            yield (where, f"'{name}' is a new identifier type; give it a priority",
                   did_you_mean(name, DEFAULTS) or "for example 'priority: 50'")
        if given.same_as is not None:
            yield from _alias_problems(name, given.same_as, spec, known, [*where, "same_as"])
        for i, pattern in enumerate(given.junk_patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                yield [*where, "junk_patterns", i], f"not a regular expression: {exc}", None
    for key, type_name in spec.fields.items():
        yield from _field_problems(key, type_name, known)


def _alias_problems(name: str, target: str, spec: IdentitySpec, known: list[str],
                    where: list[int | str]) -> Iterator[tuple[list[int | str], str, str | None]]:
    if target not in known:
        yield where, f"'{target}' is not an identifier type", did_you_mean(target, known)
        return
    seen, current = {name}, target
    while current in spec.types and spec.types[current].same_as is not None:
        if current in seen:
            yield where, f"'same_as' goes round in a circle through '{name}'", None
            return
        seen.add(current)
        current = str(spec.types[current].same_as)


def _field_problems(key: str, type_name: str,
                    known: list[str]) -> Iterator[tuple[list[int | str], str, str | None]]:
    where: list[int | str] = ["identity", "fields", key]
    entity_name, _, field_name = key.partition(".")
    ent = ENTITIES.get(entity_name)
    if ent is None or ent.derived:
        loadable = [e for e, spec in ENTITIES.items() if not spec.derived]
        yield (where, f"'{key}' is not entity.field",
               did_you_mean(entity_name, loadable) or f"entities: {', '.join(loadable)}")
    elif not ent.has_field(field_name):
        yield (where, f"'{field_name}' is not a field of {ent.name}",
               did_you_mean(field_name, ent.field_names))
    if type_name not in known:
        yield where, f"'{type_name}' is not an identifier type", did_you_mean(type_name, known)
