"""Looking a person up by any identifier: the whole portrait in one call.

``ws.profiles.get("138-1234-5678")`` finds the customer holding an identifier — a
customer id, ``type:value`` or a bare value as people type it — and returns their
:class:`Portrait`: the profile row, every identifier with where it was seen and whether it
is used, their customer records, interests, and the most recent events and orders.

Everything here is pure: :func:`parse_lookup` turns text into what to look for, the other
functions build Ibis expressions over the stored tables or assemble their rows into
plain data; the facade executes them. A lookup that does not lead to exactly one person
raises :class:`LookupMissError` with what it found instead (nobody, several people, a junk,
shared or blocked identifier).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from portraits.errors import PortraitsError, did_you_mean
from portraits.identity.attach import attach_customer_id
from portraits.identity.graph import IDENTIFIER, USED, linked_identifiers, normalized
from portraits.identity.rules import TYPE_NAME, IdentityRules, TypeRule
from portraits.ingest.phones import normalise_phone
from portraits.model.canonical import CUSTOMERS, Entity
from portraits.model.pii import mask_email, mask_identifier, mask_phone
from portraits.profile.completeness import COMPLETENESS_FIELDS, field_known

CUSTOMER_ID = re.compile(r"^C\d{8}$")
DEFAULT_EVENTS = 20
Identifier = tuple[str, str]
MissReason = Literal["not_found", "ambiguous", "junk", "shared", "blocked"]
MISS_STATUSES: tuple[MissReason, ...] = ("shared", "blocked", "junk")


@dataclass(frozen=True)
class Query:
    """What a lookup looks for.

    Attributes:
        text: The identifier as given.
        customer_id: Set when the text is a customer id (``C00000042``).
        candidates: Otherwise the normalised ``(type, value)`` pairs it may be: one for
            ``type:value``, one per identifier type for a bare value.
        hint: Why a candidate is missing (a phone that is not a valid number).
    """

    text: str
    customer_id: str | None = None
    candidates: tuple[Identifier, ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A customer an identifier leads to, and the identifier of theirs that it matched
    or was seen with."""

    customer_id: str
    id_type: str
    id_value: str
    first_seen: datetime | None = None


class LookupMissError(PortraitsError):
    """The identifier does not lead to exactly one customer.

    The message is one line with personal identifiers masked; the attributes let an
    interface say the same in its own words.

    Attributes:
        reason: ``not_found``, ``ambiguous`` (several customers), or the status of an
            identifier that joins nobody: ``junk``, ``shared``, ``blocked``.
        identifier: The identifier concerned (``type, value``), or None when it is
            neither a known type nor a customer id.
        text: The text that was looked up.
        people: The customers it leads to (ambiguous) or was seen with (shared, blocked).
        detail: Identity resolution's reason for junk, shared or blocked, or a hint.
    """

    def __init__(self, reason: MissReason, text: str, identifier: Identifier | None = None,
                 people: Sequence[Candidate] = (), detail: str | None = None) -> None:
        self.reason, self.text, self.identifier = reason, text, identifier
        self.people, self.detail = tuple(people), detail
        super().__init__(miss_message(self))


@dataclass(frozen=True)
class PersonIdentifier:
    """One identifier of the person, or one seen with them but not used, and why."""

    id_type: str
    id_value: str
    first_seen: datetime | None
    last_seen: datetime | None
    records: int
    sources: tuple[str, ...]
    status: str
    reason: str | None

    @property
    def used(self) -> bool:
        """Whether it identifies this person (not junk, shared or blocked)."""
        return self.status == USED


@dataclass(frozen=True)
class TimelineEntry:
    """One event or order. Orders name their status and their biggest line's product."""

    time: datetime
    kind: Literal["event", "order"]
    name: str
    amount: float | None
    product: str | None
    category: str | None
    channel: str | None
    platform: str | None
    order_id: str | None
    items: int | None


@dataclass(frozen=True)
class Portrait:
    """Everything known about one customer (``ws.profiles.get``).

    Attributes:
        customer_id: From identity resolution.
        matched: The identifier the lookup matched (None for a customer id).
        profile: The ``profiles`` row (docs/profiles.md), or None if profiles were not
            built yet (or not for this customer).
        identities: Used identifiers, oldest first, then those seen with the person but
            not used (shared, blocked) with the reason.
        timeline: The most recent events and orders, newest first.
        completeness: Profile completeness in percent (None without a profile).
        missing: Completeness fields the profile does not know.
        records: The person's customer records (CRM, membership, store), newest first;
            personal fields are unmasked, interfaces mask them.
        interests: ``(category, affinity)`` strongest first.
    """

    customer_id: str
    matched: Identifier | None
    profile: dict[str, Any] | None
    identities: tuple[PersonIdentifier, ...]
    timeline: tuple[TimelineEntry, ...]
    completeness: float | None
    missing: tuple[str, ...]
    records: tuple[dict[str, Any], ...]
    interests: tuple[tuple[str, float], ...]


def parse_lookup(text: str, rules: IdentityRules, region: str = "CN") -> Query:
    """What ``text`` may be: a customer id, ``type:value``, or a bare value of any type.

    Values are normalised as loading and resolution do: phones to E.164 with
    libphonenumber (``138-1234-5678``, ``+86 138 1234 5678``, ``13812345678`` are one
    number; ``region`` for numbers without a country code), then each type's steps
    (e-mails in lower case).

    Example:
        >>> rules = IdentityRules.from_spec()
        >>> parse_lookup("138-1234-5678", rules).candidates[:1]
        (('phone', '+8613812345678'),)
        >>> parse_lookup("email:Zhang@QQ.com", rules).candidates
        (('email', 'zhang@qq.com'),)
    """
    raw = text.strip()
    if not raw:
        raise LookupMissError("not_found", text, detail="give a phone, e-mail, member id, "
                         "type:value or a customer id")
    if CUSTOMER_ID.match(raw.upper()):
        return Query(text, customer_id=raw.upper())
    prefix, sep, value = raw.partition(":")
    if sep and prefix == "customer_id":
        return Query(text, customer_id=value.strip().upper())
    if sep and TYPE_NAME.match(prefix):
        if prefix not in rules.aliases:
            hint = did_you_mean(prefix, rules.aliases)
            raise PortraitsError(f"'{prefix}' is not an identifier type"
                                 f"{f' ({hint})' if hint else ''}; types: "
                                 f"{', '.join(sorted(rules.aliases))}")
        types = [rules.types[rules.namespace(prefix)]]
    else:
        types, value = list(rules.types.values()), raw
    candidates = tuple(dict.fromkeys(c for rule in types
                                     if (c := _candidate(value, rule, region, len(types) > 1))))
    phone_given = (types[0].name == "phone" if len(types) == 1
                   else _looks_like_phone(value))
    hint = (f"not a valid phone number for region {region}"
            if phone_given and not any(t == "phone" for t, _ in candidates) else None)
    return Query(text, candidates=candidates, hint=hint)


def _candidate(value: str, rule: TypeRule, region: str, bare: bool) -> Identifier | None:
    if rule.name == "phone":
        e164 = normalise_phone(value, region)
        return ("phone", e164) if e164 else None
    if bare and rule.name == "email" and "@" not in value:
        return None
    text = value
    for step in rule.normalize:  # the Python twin of graph.normalized
        if step == "trim":
            text = text.strip()
        elif step == "lower":
            text = text.lower()
        elif step == "upper":
            text = text.upper()
        elif step == "digits":
            text = re.sub(r"[^0-9]", "", text)
    return (rule.name, text) if text else None


def _looks_like_phone(value: str) -> bool:
    return bool(re.fullmatch(r"[+\d][\d\s().-]{6,}", value.strip()))


def _pairs(table: ir.Table, pairs: Iterable[Identifier], prefix: str = "id") -> ir.BooleanValue:
    kind, value = table[f"{prefix}_type"], table[f"{prefix}_value"]
    tests = [(kind == t) & (value == v) for t, v in pairs]
    return reduce(or_, tests, ibis.literal(False))


def matched_identifiers(identities: ir.Table, customer_ids: ir.Table,
                        candidates: Sequence[Identifier]) -> ir.Table:
    """The candidates that were seen in some record, with their status and reason and,
    where used, their customer.

    Returns:
        ``id_type, id_value, status, reason, customer_id`` (``customer_id`` NULL unless
        the identifier is used).
    """
    seen = identities.filter(_pairs(identities, candidates))
    seen = seen.group_by(list(IDENTIFIER)).aggregate(status=seen.status.max(),
                                                     reason=seen.reason.max())
    ids = customer_ids.select(*IDENTIFIER, "customer_id")
    joined = seen.left_join(ids, list(IDENTIFIER))
    return joined.select(id_type=seen.id_type, id_value=seen.id_value, status=seen.status,
                         reason=seen.reason, customer_id=ids.customer_id)


def linked_customers(links: ir.Table, customer_ids: ir.Table,
                     identifiers: Sequence[Identifier]) -> ir.Table:
    """The customers whose identifiers were seen in one record with any of
    ``identifiers``: who a shared or blocked identifier would have joined.

    Returns:
        ``customer_id, id_type, id_value, first_seen``: per customer, the identifier of
        theirs seen first with one of ``identifiers``.
    """
    sides = []
    for me, other in (("left", "right"), ("right", "left")):
        mine = links.filter(_pairs(links, identifiers, me))
        sides.append(mine.select(id_type=mine[f"{other}_type"],
                                 id_value=mine[f"{other}_value"], seen_at=mine.seen_at))
    near = ibis.union(*sides)
    ids = customer_ids.select(*IDENTIFIER, "customer_id")
    joined = near.join(ids, list(IDENTIFIER))
    return joined.group_by("customer_id").aggregate(
        id_type=joined.id_type.argmin(joined.seen_at),
        id_value=joined.id_value.argmin(joined.seen_at),
        first_seen=joined.seen_at.min()).order_by("customer_id")


def customer_exists(customer_ids: ir.Table, customer_id: str) -> ir.Table:
    """One row if ``customer_id`` is a customer of ``customer_ids``, else none."""
    return customer_ids.filter(customer_ids.customer_id == customer_id).select(
        "customer_id").limit(1)


def choose_customer(query: Query, matched: Sequence[dict[str, Any]],
                    people_of: Callable[[list[Identifier]], Sequence[Candidate]]
                    ) -> tuple[str, Identifier]:
    """The one customer the rows of :func:`matched_identifiers` lead to.

    Args:
        query: The parsed lookup.
        matched: Rows of :func:`matched_identifiers` for its candidates.
        people_of: The people identifiers that join nobody were seen with (the rows of
            :func:`linked_customers`); called only when the lookup finds nobody else.

    Raises:
        LookupMissError: Nobody, several customers, or an identifier that joins nobody.
    """
    used = {(r["id_type"], r["id_value"]): r["customer_id"] for r in matched
            if r["status"] == USED and r["customer_id"] is not None}
    if len(set(used.values())) == 1:
        found, customer = next(iter(used.items()))
        return customer, found
    single = query.candidates[0] if len(query.candidates) == 1 else None
    if used:
        several = [Candidate(c, t, v) for (t, v), c in sorted(used.items(), key=lambda p: p[1])]
        raise LookupMissError("ambiguous", query.text, single, several)
    off = sorted((r for r in matched if r["status"] in MISS_STATUSES),
                 key=lambda r: MISS_STATUSES.index(r["status"]))
    if off:
        first = off[0]
        raise LookupMissError(first["status"], query.text,
                              (first["id_type"], first["id_value"]),
                              people_of([(r["id_type"], r["id_value"]) for r in off]),
                              first["reason"])
    raise LookupMissError("not_found", query.text, single, detail=query.hint)


def miss_message(miss: LookupMissError) -> str:
    """One line saying why a lookup found no single customer; identifiers masked."""
    what = shown_identifier(miss.identifier, miss.text)
    ids = ", ".join(p.customer_id for p in miss.people[:10]) + (
        ", …" if len(miss.people) > 10 else "")
    if miss.reason == "ambiguous":
        return (f"{what} matches {len(miss.people)} customers ({ids}); give type:value to "
                "choose, for example member_id:…")
    if miss.reason in ("junk", "shared", "blocked"):
        why = f" ({miss.detail})" if miss.detail else ""
        seen = f"; seen with {len(miss.people)} customers: {ids}" if miss.people else ""
        return (f"{what} is {miss.reason}{why}: it is not used to identify anyone, "
                f"so it finds no customer{seen}")
    hint = f" ({miss.detail})" if miss.detail else ""
    return (f"no customer has {what}{hint}; look up a phone, e-mail, member id, type:value "
            "or a customer id (C00000001); data loaded since the last 'portraits identity "
            "resolve' is not resolved yet")


def shown_identifier(identifier: Identifier | None, text: str, show_pii: bool = False) -> str:
    """An identifier as ``type:value``, or the text looked up when it is no single
    identifier; phones and e-mails masked unless ``show_pii``."""
    if identifier is None:
        raw = text.strip()
        if show_pii:
            return raw
        if "@" in raw:
            return mask_email(raw)
        if _looks_like_phone(raw):
            digits = re.sub(r"\D", "", raw)
            return mask_phone(digits[2:] if len(digits) == 13 and digits[:2] == "86" else digits)
        return raw
    if identifier[0] == "customer_id":
        return identifier[1]
    value = identifier[1] if show_pii else mask_identifier(*identifier)
    return f"{identifier[0]}:{value}"


def person_records(table: ir.Table, ent: Entity, customer_ids: ir.Table,
                   rules: IdentityRules, customer_id: str) -> ir.Table:
    """The rows of a person table (customers, events, orders, reviews) that belong to
    ``customer_id``, by the same rule as the profile build (:func:`attach_customer_id`).

    Rows carrying one of the person's identifiers are found first, so a lookup reads
    only them; a row whose higher-priority identifier belongs to someone else stays
    out.
    """
    if "customer_id" in table.columns:
        return table.filter(table.customer_id == customer_id)
    members = customer_ids.filter(customer_ids.customer_id == customer_id)
    fields = [(name, rule) for name, rule in rules.identifier_fields(ent)
              if name in table.columns]
    tests = [normalized(table[name], rule).isin(
        members.filter(members.id_type == rule.name).id_value) for name, rule in fields]
    near = table.filter(reduce(or_, tests, ibis.literal(False)))
    attached = attach_customer_id(near, ent, customer_ids, rules)
    return attached.filter(attached.customer_id == customer_id)


def customer_records(customers: ir.Table, customer_ids: ir.Table, rules: IdentityRules,
                     customer_id: str) -> ir.Table:
    """The person's customer records (CRM, membership, store): canonical fields plus
    ``source`` and ``loaded_at``, most recently registered first."""
    rows = person_records(customers, CUSTOMERS, customer_ids, rules, customer_id)
    lineage = {"source": "_source", "loaded_at": "_loaded_at"}
    extra = {name: rows[column] if column in rows.columns else ibis.null("string")
             for name, column in lineage.items()}
    rows = rows.select(*[f for f in CUSTOMERS.field_names if f in rows.columns], **extra)
    order = [rows[c].desc(nulls_first=False) for c in ("registered_at", "loaded_at")
             if c in rows.columns]
    return rows.order_by([*order, "source"])


def person_identities(identities: ir.Table, customer_ids: ir.Table, links: ir.Table | None,
                      customer_id: str) -> ir.Table:
    """The person's identifiers, and those seen in their records but not used.

    Returns:
        ``id_type, id_value, first_seen, last_seen, records, sources, status, reason``.
    """
    members = customer_ids.filter(customer_ids.customer_id == customer_id).select(*IDENTIFIER)
    parts = [_per_identifier(identities.semi_join(members, list(IDENTIFIER)))]
    if links is not None:
        near = linked_identifiers(links, members)
        off = identities.filter(identities.status != USED)
        parts.append(_per_identifier(off.semi_join(near, list(IDENTIFIER))))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _per_identifier(rows: ir.Table) -> ir.Table:
    return rows.group_by(list(IDENTIFIER)).aggregate(
        first_seen=rows.seen_at.min(), last_seen=rows.last_seen_at.max(),
        records=rows.records.sum(), sources=rows.source.collect(distinct=True),
        status=rows.status.max(), reason=rows.reason.max())


def profile_row(profiles: ir.Table, customer_id: str) -> ir.Table:
    """The person's ``profiles`` row with ``_known_<field>`` for each completeness field."""
    row = profiles.filter(profiles.customer_id == customer_id)
    return row.mutate(**{f"_known_{name}": field_known(row, name)
                         for name in COMPLETENESS_FIELDS})


def person_interests(interests: ir.Table, customer_id: str) -> ir.Table:
    """The person's interest affinities, strongest first."""
    return interests.filter(interests.customer_id == customer_id).order_by("rank")


def timeline(events: ir.Table | None, orders: ir.Table | None, order_items: ir.Table | None,
             products: ir.Table | None, limit: int = DEFAULT_EVENTS) -> ir.Table | None:
    """The most recent ``limit`` events and orders of one person, newest first (an order
    before an event of the same second).

    Args:
        events: The person's events (:func:`person_records`), or None.
        orders: The person's orders, or None.
        order_items: All order lines, to name an order's biggest line; or None.
        products: The catalogue, for product names and categories; or None.
        limit: How many entries.

    Returns:
        The columns of :class:`TimelineEntry`, or None when there is neither table.
    """
    parts = []
    if events is not None:
        parts.append(_event_entries(events, products))
    if orders is not None:
        parts.append(_order_entries(orders, order_items, products))
    if not parts:
        return None
    merged = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return merged.order_by([merged.time.desc(), merged.kind.desc(), merged.name]).limit(limit)


def _names(products: ir.Table | None) -> ir.Table | None:
    if products is None:
        return None
    return products.select(_product_id=products.product_id, _product=products.name,
                           _category=products.category)


def _event_entries(events: ir.Table, products: ir.Table | None) -> ir.Table:
    names = _names(products)
    rows = events if names is None else events.left_join(
        names, events.product_id == names._product_id)
    product = rows.product_id if names is None else rows._product.fill_null(rows.product_id)
    category = rows.category if names is None else rows.category.fill_null(rows._category)
    return rows.select(time=rows.timestamp.cast("timestamp"), kind=ibis.literal("event"),
                       name=rows.event, amount=rows.revenue.cast("float64"),
                       product=product.cast("string"), category=category.cast("string"),
                       channel=rows.channel.cast("string"),
                       platform=rows.platform.cast("string"),
                       order_id=rows.order_id.cast("string"), items=ibis.null("int64"))


def _order_entries(orders: ir.Table, order_items: ir.Table | None,
                   products: ir.Table | None) -> ir.Table:
    rows = orders.mutate(_product_id=ibis.null("string"), _items=ibis.null("int64"))
    if order_items is not None:
        lines = order_items.semi_join(orders, "order_id")
        per = lines.group_by("order_id").aggregate(
            _top=lines.product_id.argmax(lines.amount), _lines=lines.count())
        rows = orders.left_join(per, "order_id").select(
            *orders.columns, _product_id=per._top, _items=per._lines)
    names = _names(products)
    if names is not None:
        rows = rows.left_join(names, rows._product_id == names._product_id).select(
            *rows.columns, _product=names._product, _category=names._category)
    else:
        rows = rows.mutate(_product=ibis.null("string"), _category=ibis.null("string"))
    # orders.channel holds app, web, mini_program or store: the platform of an event.
    return rows.select(time=rows.ordered_at.cast("timestamp"), kind=ibis.literal("order"),
                       name=rows.status.cast("string").fill_null("order"),
                       amount=rows.total_amount.cast("float64"),
                       product=rows._product.fill_null(rows._product_id).cast("string"),
                       category=rows._category.cast("string"), channel=ibis.null("string"),
                       platform=rows.channel.cast("string"),
                       order_id=rows.order_id.cast("string"), items=rows._items.cast("int64"))


def portrait(customer_id: str, matched: Identifier | None, profile: Sequence[dict[str, Any]],
             identities: Sequence[dict[str, Any]], timeline_rows: Sequence[dict[str, Any]],
             records: Sequence[dict[str, Any]],
             interests: Sequence[dict[str, Any]]) -> Portrait:
    """Assemble the executed rows of the functions above into a :class:`Portrait`."""
    row = dict(profile[0]) if profile else None
    missing: tuple[str, ...] = ()
    if row is not None:
        missing = tuple(n for n in COMPLETENESS_FIELDS if not row.pop(f"_known_{n}"))
    people = sorted((PersonIdentifier(r["id_type"], r["id_value"], r["first_seen"],
                                      r["last_seen"], int(r["records"] or 0),
                                      tuple(sorted(r["sources"] or ())), r["status"],
                                      r["reason"]) for r in identities),
                    key=lambda i: (not i.used, i.first_seen or datetime.max, i.id_type,
                                   i.id_value))
    entries = tuple(TimelineEntry(**r) for r in timeline_rows)
    return Portrait(customer_id, matched, row, tuple(people), entries,
                    row.get("completeness") if row is not None else None, missing,
                    tuple(dict(r) for r in records), tuple((r["category"], float(r["affinity"]))
                                         for r in interests))
