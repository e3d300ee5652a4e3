"""``Workspace``: the one entry point of the Python API, split into namespaces.

Example:
    >>> from portraits import Workspace
    >>> ws = Workspace.init("my-shop")                    # doctest: +SKIP
    >>> ws.synth.generate(customers=1000)                 # doctest: +SKIP
    >>> reports = ws.ingest.load()                        # doctest: +SKIP
    >>> ws.table("customers").to_pandas()                 # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from portraits.engine import Engine, connect
from portraits.errors import PortraitsError
from portraits.ingest.load import Loader, Progress
from portraits.ingest.quality import LoadReport
from portraits.settings import Settings, get_settings
from portraits.workspace.analyzing import AnalyticsNamespace
from portraits.workspace.loader import SPEC_FILE, load_spec
from portraits.workspace.pipeline import PipelineNamespace
from portraits.workspace.predicting import PredictNamespace
from portraits.workspace.scaffold import create_workspace
from portraits.workspace.segmenting import SegmentsNamespace
from portraits.workspace.spec import DuckDBEngineSpec, SparkEngineSpec, WorkspaceSpec
from portraits.workspace.tagging import TagsNamespace

if TYPE_CHECKING:
    from portraits.identity.blocks import Blocks
    from portraits.identity.explain import Explanation
    from portraits.identity.resolve import Resolver, ResolveReport
    from portraits.identity.rules import IdentityRules
    from portraits.profile import ProfileInputs, ProfileSpec
    from portraits.profile.lookup import Portrait, Query
    from portraits.synth import GenerationSummary


class Workspace:
    """A workspace folder: its spec, its engine and its namespaces.

    Args:
        path: The folder holding ``portraits.yaml``.
        settings: Process settings; read from the environment when omitted.
    """

    def __init__(self, path: str | Path, settings: Settings | None = None) -> None:
        self.root = Path(path).resolve()
        self.settings = settings or get_settings()
        self.spec: WorkspaceSpec = _with_overrides(load_spec(self.root / SPEC_FILE),
                                                   self.settings)
        self._engine: Engine | None = None
        self.ingest = IngestNamespace(self)
        self.identity = IdentityNamespace(self)
        self.synth = SynthNamespace(self)
        self.profiles = ProfilesNamespace(self)
        self.tags = TagsNamespace(self)
        self.segments = SegmentsNamespace(self)
        self.analytics = AnalyticsNamespace(self)
        self.predict = PredictNamespace(self)
        self.pipeline = PipelineNamespace(self)

    @classmethod
    def init(cls, path: str | Path, force: bool = False) -> Workspace:
        """Create a workspace from the retail template and open it."""
        create_workspace(Path(path), force=force)
        return cls(path)

    @property
    def engine(self) -> Engine:
        """The engine, connected on first use."""
        if self._engine is None:
            self._engine = connect(self.spec.engine, self.root)
        return self._engine

    def table(self, name: str) -> ir.Table:
        """A stored table as an Ibis expression (``.to_pandas()``, ``.to_pyarrow()``, …)."""
        if not self.engine.has_table(name):
            raise PortraitsError(f"the workspace has no table '{name}' yet; run 'portraits load'")
        return self.engine.table(name)

    def tables(self) -> list[str]:
        """Names of the stored tables."""
        return self.engine.tables()

    def close(self) -> None:
        """Close the engine connection."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _with_overrides(spec: WorkspaceSpec, settings: Settings) -> WorkspaceSpec:
    engine = spec.engine
    if settings.engine and settings.engine != engine.kind:
        engine = SparkEngineSpec() if settings.engine == "spark" else DuckDBEngineSpec()
    if settings.spark_master and isinstance(engine, SparkEngineSpec):
        engine = engine.model_copy(update={"master": settings.spark_master})
    return spec.model_copy(update={"engine": engine})


class IngestNamespace:
    """Loading sources, and what the loads found (``ws.ingest``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def load(self, sources: list[str] | None = None, force: bool = False,
             progress: Progress | None = None,
             on_report: Callable[[LoadReport], None] | None = None) -> list[LoadReport]:
        """Load the named sources (all when None) in the order of ``portraits.yaml``.

        Args:
            sources: Source names; unknown names are an error with a hint.
            force: Load again even if the same files were loaded before.
            progress: Called with a short message as each step starts.
            on_report: Called with each source's report as soon as it is done.
        """
        ws = self._ws
        chosen = _choose(ws.spec, sources)
        loader = Loader(ws.spec, ws.root, ws.engine, ws.settings.current_time(), progress)
        reports = []
        for source in chosen:
            report = loader.load(source, force=force)
            reports.append(report)
            if on_report:
                on_report(report)
        return reports

    def loads(self) -> ir.Table:
        """Every load so far, newest first (the quality history)."""
        loads = self._ws.table("loads")
        return loads.order_by(loads.started_at.desc())

    def rejects(self, load_id: str | None = None) -> ir.Table:
        """Findings of all loads, or of one load."""
        rejects = self._ws.table("rejects")
        if load_id is not None:
            rejects = rejects.filter(rejects.load_id == load_id)
        return rejects.order_by(["load_id", "file", "row"])

    def rules(self, load_id: str) -> ir.Table:
        """Rows per rule of one load."""
        rules = self._ws.table("quality_rules")
        return rules.filter(rules.load_id == load_id)

    def completeness(self, load_id: str) -> ir.Table:
        """Completeness per field of one load."""
        fields = self._ws.table("quality_fields")
        return fields.filter(fields.load_id == load_id)


def _choose(spec: WorkspaceSpec, names: list[str] | None) -> list:  # type: ignore[type-arg]
    from portraits.errors import did_you_mean

    if not names:
        return list(spec.sources)
    known = [s.name for s in spec.sources]
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = [f"'{n}'" + (f" ({h})" if (h := did_you_mean(n, known)) else "") for n in unknown]
        raise PortraitsError(f"no source {', '.join(hints)} in {SPEC_FILE}; "
                             f"sources: {', '.join(known)}")
    return [spec.source(n) for n in names]


class SynthNamespace:
    """Synthetic retail data with planted truth (``ws.synth``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def generate(self, customers: int = 1000, seed: int = 42, end: date | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> GenerationSummary:
        """Write a synthetic data set into the workspace's ``data_dir``.

        Args:
            customers: Number of people.
            seed: Random seed; the same seed, size and end give the same files.
            end: The data stops before this day; today (or the pinned ``PORTRAITS_NOW``)
                when omitted.
            progress: Called with (stage, people done, people in all).
        """
        from portraits.synth import generate

        out = self._ws.root / self._ws.spec.data_dir
        end = end or self._ws.settings.current_time().date()
        return generate(out, customers=customers, seed=seed, end=end, progress=progress)


class ProfilesNamespace:
    """Customer profiles, one row per customer (``ws.profiles``); fields in docs/profiles.md."""

    TABLE = "profiles"
    INTERESTS = "profile_interests"

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def build(self, customer_ids: ir.Table | None = None, *, inputs: ProfileInputs | None = None,
              as_of: datetime | None = None, spec: ProfileSpec | None = None) -> int:
        """Build and store ``profiles`` and ``profile_interests``; return the number of profiles.

        Args:
            customer_ids: Identity resolution's ``customer_ids`` table, to give stored
                tables without a ``customer_id`` column one (see :func:`_with_customer_ids`).
            inputs: The canonical tables to profile, already carrying ``customer_id``; the
                workspace's stored tables when omitted.
            as_of: Reference time; the workspace's current time when omitted.
            spec: Profile thresholds; the defaults when omitted.
        """
        from portraits.profile import ProfileSpec, build_profiles, profile_interests
        from portraits.profile.build import profile_events

        ws = self._ws
        as_of = as_of or ws.settings.current_time()
        spec = spec or ProfileSpec()
        inputs = inputs or _stored_profile_inputs(ws, customer_ids)
        # The events with their customer ids, computed once for every dimension that
        # reads them (behaviour, interests and referrals each joined them again).
        events = (ws.engine.stage(profile_events(inputs.events))
                  if inputs.events is not None else None)
        staged = [] if events is None else [events]
        try:
            inputs = dataclasses.replace(inputs, events=events)
            interests = profile_interests(inputs, as_of, spec)
            if interests is not None:
                ws.engine.write(self.INTERESTS, interests)
                interests = ws.engine.table(self.INTERESTS)
            parts = (_behaviour_in_buckets(ws.engine, events, spec, as_of)
                     if events is not None else [])
            staged += parts
            behaviour_part = ibis.union(*parts) if parts else None
            ws.engine.write(self.TABLE, build_profiles(inputs, as_of, spec, interests,
                                                       behaviour_part))
        finally:
            for table in staged:
                ws.engine.discard(table)
        return ws.engine.count(ws.engine.table(self.TABLE))

    def table(self) -> ir.Table:
        """The stored profiles."""
        return self._ws.table(self.TABLE)

    def with_predictions(self) -> ir.Table:
        """The stored profiles with a column per prediction field (``churn_risk``,
        ``clv``, ``next_category``…; null before ``portraits predict score``): the base
        tags, segments and exports read."""
        from portraits.predict.store import PREDICTIONS, null_columns, prediction_columns
        from portraits.profile.spine import attach

        profiles = self.table()
        engine = self._ws.engine
        scored = prediction_columns(engine.table(PREDICTIONS)
                                    if engine.has_table(PREDICTIONS) else None)
        return (attach(profiles, scored) if scored is not None
                else profiles.mutate(**null_columns()))

    def interests(self) -> ir.Table:
        """The stored interest affinities (customer, category, affinity, rank)."""
        return self._ws.table(self.INTERESTS)

    def completeness(self) -> ir.Table:
        """Completeness overall and per field (R3.6), in the documented order."""
        from portraits.profile.completeness import POPULATIONS, completeness_summary

        summary = completeness_summary(self.table())
        order = ibis.cases(*((summary.population == name, i)
                             for i, name in enumerate(POPULATIONS)))
        return summary.order_by([order, "position"])

    def get(self, identifier: str, events: int = 20) -> Portrait:
        """The whole portrait of the customer holding ``identifier``.

        Args:
            identifier: A customer id (``C00000042``), ``type:value``
                (``member_id:M10000001``), or a bare value as people type it: a phone
                (``13812345678``, ``138-1234-5678``, ``+86 138 1234 5678``), an e-mail
                (any case), a member id, a WeChat openid or unionid.
            events: How many of the most recent events and orders the timeline holds.

        Returns:
            Profile fields (None if profiles were not built yet), identifiers, customer
            records, interests and the timeline; see :class:`~portraits.profile.lookup.Portrait`.

        Raises:
            LookupMissError: No customer, several customers (listed), or an identifier that
                joins nobody (junk, shared, blocked).

        Example:
            >>> ws.profiles.get("138-1234-5678").profile["spend"]   # doctest: +SKIP
        """
        from portraits.identity.resolve import CUSTOMER_IDS
        from portraits.profile import lookup

        ws = self._ws
        if not ws.engine.has_table(CUSTOMER_IDS):
            raise PortraitsError("no identities resolved yet; run 'portraits identity resolve'")
        if events < 0:
            raise PortraitsError("events must be 0 or more")
        query = lookup.parse_lookup(identifier, ws.identity.rules, ws.spec.phone_region)
        customer, matched = _find_customer(ws, query)
        return _read_portrait(ws, customer, matched, events)


def _rows(ws: Workspace, table: ir.Table) -> list[dict[str, Any]]:
    return list(ws.engine.to_arrow(table).to_pylist())


def _find_customer(ws: Workspace, query: Query) -> tuple[str, tuple[str, str] | None]:
    from portraits.identity.resolve import CUSTOMER_IDS, IDENTITIES, LINKS
    from portraits.profile import lookup

    ids = ws.table(CUSTOMER_IDS)
    if query.customer_id is not None:
        if not _rows(ws, lookup.customer_exists(ids, query.customer_id)):
            raise lookup.LookupMissError("not_found", query.text,
                                         ("customer_id", query.customer_id),
                                         detail="no such customer id")
        return query.customer_id, None

    def people_of(identifiers: list[tuple[str, str]]) -> list[lookup.Candidate]:
        if not ws.engine.has_table(LINKS):
            return []
        linked = lookup.linked_customers(ws.table(LINKS), ids, identifiers)
        return [lookup.Candidate(**row) for row in _rows(ws, linked)]

    matched = _rows(ws, lookup.matched_identifiers(ws.table(IDENTITIES), ids, query.candidates))
    return lookup.choose_customer(query, matched, people_of)


def _read_portrait(ws: Workspace, customer: str, matched: tuple[str, str] | None,
                   events: int) -> Portrait:
    from portraits.identity.resolve import CUSTOMER_IDS, IDENTITIES, LINKS
    from portraits.model.canonical import entity
    from portraits.profile import lookup

    ids, rules = ws.table(CUSTOMER_IDS), ws.identity.rules

    def stored(name: str) -> ir.Table | None:
        return ws.table(name) if ws.engine.has_table(name) else None

    def mine(name: str) -> ir.Table | None:
        table = stored(name)
        return None if table is None else lookup.person_records(table, entity(name), ids,
                                                                rules, customer)

    profiles, interests, customers = (stored(n) for n in (
        ProfilesNamespace.TABLE, ProfilesNamespace.INTERESTS, "customers"))
    timeline = lookup.timeline(mine("events"), mine("orders"), stored("order_items"),
                               stored("products"), events) if events else None
    return lookup.portrait(
        customer, matched,
        profile=_rows(ws, lookup.profile_row(profiles, customer)) if profiles is not None
        else [],
        identities=_rows(ws, lookup.person_identities(ws.table(IDENTITIES), ids,
                                                      stored(LINKS), customer)),
        timeline_rows=_rows(ws, timeline) if timeline is not None else [],
        records=_rows(ws, lookup.customer_records(customers, ids, rules, customer))
        if customers is not None else [],
        interests=_rows(ws, lookup.person_interests(interests, customer))
        if interests is not None else [])


def _behaviour_in_buckets(engine: Engine, events: ir.Table, spec: ProfileSpec,
                          as_of: datetime) -> list[ir.Table]:
    """The behaviour dimension staged bucket by bucket of customers, on an engine whose
    windows do not spill and for more events than one bucket holds; [] otherwise (it is
    built with the other dimensions)."""
    from portraits.profile.behaviour import behaviour
    from portraits.profile.build import behaviour_buckets, customer_bucket

    buckets = 1 if engine.windows_spill else behaviour_buckets(engine.count(events))
    if buckets == 1:
        return []
    return [engine.stage(behaviour(customer_bucket(events, buckets, b), spec, as_of))
            for b in range(buckets)]


def _stored_profile_inputs(ws: Workspace, customer_ids: ir.Table | None) -> ProfileInputs:
    from portraits.profile import ProfileInputs
    from portraits.profile.build import EVENT_COLUMNS, PERSON_TABLES

    tables: dict[str, ir.Table | None] = {}
    for name in ("customers", "events", "orders", "order_items", "products", "reviews"):
        table = ws.table(name) if ws.engine.has_table(name) else None
        if table is not None and name in PERSON_TABLES and "customer_id" not in table.columns:
            # Events: only what profiles read goes through the joins (20M rows or more).
            read = ([c for c in EVENT_COLUMNS if c in table.columns] if name == "events"
                    else None)
            table = _with_customer_ids(ws, name, table, customer_ids, read)
        tables[name] = table
    sentiment = AnalyticsNamespace.SENTIMENT  # review scores, when the sentiment ran
    scored = ws.table(sentiment) if ws.engine.has_table(sentiment) else None
    return ProfileInputs(**tables, review_sentiment=scored)


def _with_customer_ids(ws: Workspace, name: str, table: ir.Table,
                       customer_ids: ir.Table | None,
                       columns: Sequence[str] | None = None) -> ir.Table:
    """IDENTITY SEAM: give a stored person table (its ``columns``, or all) its
    ``customer_id`` column from identity resolution's ``customer_ids`` table
    (``attach_customer_id`` with the workspace's rules)."""
    if customer_ids is None:
        raise PortraitsError(f"the stored '{name}' table has no customer_id column; pass the "
                             "customer_ids table of identity resolution")
    if table.equals(ws.table(name)) and customer_ids.equals(ws.identity.customer_ids()):
        return ws.identity.attach(name, columns)  # the stored tables: the kept map
    from portraits.identity.attach import attach_customer_id
    from portraits.model.canonical import entity

    return attach_customer_id(table, entity(name), customer_ids, ws.identity.rules, columns)


class IdentityNamespace:
    """Identity resolution: one ``customer_id`` per person (``ws.identity``).

    Example:
        >>> report = ws.identity.resolve()                        # doctest: +SKIP
        >>> f"{report.records} records → {report.people} people"  # doctest: +SKIP
        >>> ws.identity.explain("phone:+8613912345678")           # doctest: +SKIP
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @property
    def rules(self) -> IdentityRules:
        """The identity rules of ``portraits.yaml`` with the built-in defaults."""
        from portraits.identity.rules import IdentityRules

        return IdentityRules.from_spec(self._ws.spec.identity)

    def _resolver(self, blocks: Blocks | None = None) -> Resolver:
        from portraits.identity.blocks import read_blocks
        from portraits.identity.matching import Matcher
        from portraits.identity.resolve import Resolver
        from portraits.identity.review import workspace_decisions

        ws = self._ws
        chosen = blocks if blocks is not None else read_blocks(ws.root)
        now = ws.settings.current_time()
        matcher = Matcher(ws.engine, ws.spec.identity.matching, self.rules,
                          workspace_decisions(ws.root), now)
        return Resolver(ws.engine, self.rules, chosen, now, matcher)

    def resolve(self) -> ResolveReport:
        """Resolve the records loaded since the last run into people.

        Only new loads are read; existing customers keep their ids; a run with nothing
        new changes nothing.
        """
        return self._resolver().resolve()

    def explain(self, identifier: str) -> Explanation:
        """How the person holding ``identifier`` (``type:value`` or a customer id) was
        assembled: identifiers, merges in order, identifiers left out and why."""
        from portraits.identity.explain import explain, parse_query

        return explain(self._ws.engine, parse_query(identifier, self.rules))

    def split(self, identifier: str | None = None,
              link: tuple[str, str] | None = None) -> ResolveReport:
        """Block an identifier or a link in ``identity/blocks.yaml`` and resolve the
        people it joined again; the oldest part keeps the customer id.

        Args:
            identifier: ``type:value`` never to merge on.
            link: Two ``type:value`` identifiers whose link is not to be used.
        """
        from portraits.identity.blocks import identifier_text, read_blocks, write_blocks
        from portraits.identity.explain import parse_query

        if (identifier is None) == (link is None):
            raise PortraitsError("give an identifier or a link to split on, not both")
        blocks = read_blocks(self._ws.root)
        if identifier is not None:
            blocked = parse_query(identifier, self.rules)
            blocks = blocks.with_identifier(blocked)
            cause = f"blocked {identifier_text(blocked)}"
        else:
            assert link is not None
            left, right = (parse_query(end, self.rules) for end in link)
            blocks = blocks.with_link(left, right)
            cause = f"blocked link {identifier_text(left)} - {identifier_text(right)}"
        write_blocks(self._ws.root, blocks)
        return self._resolver(blocks).resolve(cause=cause)

    def review(self, path: str | Path) -> int:
        """Export the pairs probabilistic matching is unsure of, for a person to decide.

        Writes a CSV (UTF-8 with BOM, opens in Excel) with both records' values side by
        side and an empty ``decision`` column; returns how many pairs it holds. The file
        holds personal data: keep it where the customer data is kept.
        """
        from portraits.identity.matching import MATCH_PAIRS, match_records
        from portraits.identity.review import review_rows, write_review

        engine = self._ws.engine
        if not engine.has_table(MATCH_PAIRS):
            raise PortraitsError("no matches yet: run `portraits identity resolve` first")
        records = engine.to_arrow(match_records(engine.table("customers")))
        rows = review_rows(engine.to_arrow(engine.table(MATCH_PAIRS)), records)
        write_review(rows, Path(path))
        return len(rows)

    def apply_review(self, path: str | Path) -> ResolveReport:
        """Keep reviewers' decisions (``identity/match_decisions.csv``) and resolve again.

        ``match`` links the pair's records; ``no_match`` blocks a link matching made
        between them (the people it joined are split, the older keeps the id).
        """
        from portraits.identity.blocks import read_blocks, write_blocks
        from portraits.identity.matching import MATCHING_SOURCE
        from portraits.identity.review import keep_decisions, read_decisions

        ws = self._ws
        decisions = read_decisions(Path(path))
        keep_decisions(decisions, ws.root)
        refused = {frozenset((r["left_id"], r["right_id"])) for r in decisions.to_pylist()
                   if r["decision"] == "no_match"}
        blocks = read_blocks(ws.root)
        if refused and ws.engine.has_table("identity_links"):
            links = ws.engine.table("identity_links")
            made = ws.engine.to_arrow(links.filter(links.source == MATCHING_SOURCE))
            for link in made.to_pylist():
                if frozenset(str(link["record_key"]).split(" ~ ")) in refused:
                    blocks = blocks.with_link((link["left_type"], link["left_value"]),
                                              (link["right_type"], link["right_value"]))
        write_blocks(ws.root, blocks)
        return self._resolver(blocks).resolve(cause="review decisions", rematch=True)

    def customer_ids(self) -> ir.Table:
        """Every usable identifier and its customer (``id_type, id_value, customer_id``)."""
        return self._ws.table("customer_ids")

    def attach(self, table: str, columns: Sequence[str] | None = None) -> ir.Table:
        """A canonical table with the ``customer_id`` of each record; only ``columns``
        (and ``customer_id``) when given, narrowed before the joins so that a query
        reading the result several times shares a narrow table.

        The customer of each record is worked out once per identity run and kept (a
        hidden ``_customers_of_<table>``), so later reads join on the record's key.
        """
        from portraits.identity.attach import attach_by_record, attach_customer_id
        from portraits.model.canonical import entity

        ent = entity(table)
        records = self._records(table)
        if records is not None:
            return attach_by_record(self._ws.table(table), ent, records, columns)
        return attach_customer_id(self._ws.table(table), ent, self.customer_ids(),
                                  self.rules, columns)

    def _records(self, table: str) -> ir.Table | None:
        """The current map of ``table``'s records to their customers, made when missing or
        out of date; None before identity resolution has run, and for a table that
        carries no identifier (nothing to map)."""
        from portraits.identity.attach import record_customers
        from portraits.identity.resolve import RUNS
        from portraits.model.canonical import entity

        engine = self._ws.engine
        if not (engine.has_table(RUNS) and engine.has_table("customer_ids")):
            return None
        stored = self._ws.table(table)
        if not any(name in stored.columns
                   for name, _ in self.rules.identifier_fields(entity(table))):
            return None
        stamp = self._stamp(table)
        name = f"_customers_of_{table}"
        if engine.has_table(name) and "_stamp" in (kept := engine.table(name)).columns:
            found = engine.to_arrow(kept.select("_stamp").limit(1)).column("_stamp")
            if found.to_pylist() == [stamp]:
                return kept
        engine.write(name, record_customers(stored, entity(table), self.customer_ids(),
                                            self.rules, stamp))
        return engine.table(name)

    def _stamp(self, table: str) -> str:
        """What a record's customer depends on: the latest identity run, the identity
        rules, and the table's rows and loads."""
        import hashlib

        from portraits.identity.resolve import RUNS

        engine = self._ws.engine
        runs = engine.table(RUNS)
        parts: list[object] = [
            engine.to_arrow(runs.aggregate(latest=runs.sequence.max())).to_pylist(),
            repr(self.rules), engine.count(self._ws.table(table))]
        if engine.has_table("loads"):
            loads = engine.table("loads")
            mine = loads.filter(loads.entity == table, loads.status != "skipped")
            parts.append(engine.to_arrow(mine.aggregate(
                n=mine.count(), last=mine.started_at.max())).to_pylist())
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
