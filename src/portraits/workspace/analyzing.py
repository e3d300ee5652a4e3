"""``ws.analytics``: funnels, paths, retention, segment description, clusters, basket
rules and review sentiment over the workspace's tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir

from portraits.errors import PortraitsError, did_you_mean

if TYPE_CHECKING:
    from pathlib import Path

    from portraits.analytics.basket import BasketRules, BasketSpec
    from portraits.analytics.clusters import Clustering
    from portraits.analytics.describe import SegmentDescription
    from portraits.analytics.funnel import Exclusion, FunnelResult, Order
    from portraits.analytics.paths import PathResult
    from portraits.analytics.retention import Period, RetentionResult
    from portraits.analytics.sentiment import SentimentReport
    from portraits.segments.spec import SegmentSpec
    from portraits.workspace.facade import Workspace

CUSTOMER_ID = "customer_id"
# Columns of an event a funnel can be broken down by (the first step's value).
EVENT_BREAKDOWNS = ("platform", "channel", "utm_source", "utm_medium", "utm_campaign",
                    "device_type", "os", "city", "category")


class AnalyticsNamespace:
    """Behaviour analytics over the workspace (``ws.analytics``).

    Example:
        >>> result = ws.analytics.funnel(["Product Viewed", "Product Added",
        ...                               "Order Completed"])                 # doctest: +SKIP
        >>> result.to_pandas()                                                 # doctest: +SKIP
        >>> result.save_chart("funnel.png", lang="zh-CN")                      # doctest: +SKIP
    """

    SENTIMENT = "review_sentiment"

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def table(self, name: str, columns: Sequence[str] | None = None) -> ir.Table:
        """A stored table with each record's ``customer_id`` (from identity resolution
        when the table has none); only ``columns`` and ``customer_id`` when given."""
        ws = self._ws
        stored = ws.table(name)
        if CUSTOMER_ID in stored.columns:
            return stored if columns is None else stored.select(
                *dict.fromkeys([*columns, CUSTOMER_ID]))
        return ws.identity.attach(name, columns)

    def base(self) -> ir.Table:
        """One row per customer: the profile with its predictions and tags (what describe
        and clusters read)."""
        ws = self._ws
        return ws.profiles.with_predictions().join(ws.tags.table(), CUSTOMER_ID)

    def _tag_names(self) -> dict[str, tuple[str, str]]:
        """(English, Chinese) names of the workspace's tags, for plain words."""
        return {t.id: (t.spec.name.en, t.spec.name.zh) for t in self._ws.tags.catalog()}

    def describe(self, segment: str | SegmentSpec, top: int = 20) -> SegmentDescription:
        """What distinguishes a segment from the whole base: shares and means of every
        profile field and tag, with the index ("Tier-1 cities ×1.8"), ranked by effect
        size (docs/analytics/describe.md)."""
        from portraits.analytics.describe import analyze_description

        chosen = self._ws.segments.get(segment)
        return analyze_description(self._ws.segments.members(chosen), self.base(),
                                   self._ws.engine.to_arrow, name=chosen.id, top=top,
                                   names=self._tag_names())

    def clusters(self, k: int | None = None, k_range: tuple[int, int] = (2, 8),
                 features: Sequence[str] | None = None, seed: int = 42,
                 sample: int = 10_000) -> Clustering:
        """Discover segments: k-means over profile features with equal weights, k chosen
        by silhouette, each cluster described in plain words (docs/analytics/clusters.md).
        """
        from portraits.analytics.clusters import analyze_clusters

        return analyze_clusters(self.base(), self._ws.engine.to_arrow, k, k_range, features,
                                seed, sample, names=self._tag_names())

    def save_cluster(self, clustering: Clustering, cluster: int, segment_id: str,
                     replace: bool = False) -> Path:
        """Save one cluster's members as a segment (``segments/<id>.yaml`` over a saved
        list), named and described by the cluster's plain-words summary."""
        names, description = clustering.segment_texts(cluster)
        return self._ws.segments.save_list(segment_id, clustering.members(cluster),
                                           names=names, description=description,
                                           replace=replace)

    def basket(self, spec: BasketSpec | None = None,
               substitutes: bool = True) -> BasketRules:
        """Bought-together rules with support, confidence and lift from paid orders, and
        substitutes (often viewed together, rarely bought together) from product views
        (docs/analytics/basket.md). On one machine the itemsets are counted with sparse
        matrices; on Spark relationally, on the cluster."""
        from portraits.analytics.basket import BasketSpec, analyze_basket

        ws = self._ws
        events = self.table("events") if substitutes and ws.engine.has_table("events") else None
        return analyze_basket(ws.table("order_items"), ws.table("orders"), ws.table("products"),
                              spec or BasketSpec(), ws.engine.to_arrow, events=events,
                              engine_kind=ws.engine.name)

    def funnel(self, steps: Sequence[str], window: timedelta = timedelta(days=14),
               order: Order = "sequential", exclusions: Sequence[Exclusion] = (),
               breakdown: str | None = None, segments: Sequence[str] = (),
               since: datetime | None = None, until: datetime | None = None) -> FunnelResult:
        """Conversion through ordered steps (docs/analytics/funnels.md).

        Args:
            steps: Event names, at least two.
            window: Conversion window from the first step.
            order: ``sequential``, ``strict`` or ``any``.
            exclusions: Events that remove a person when done between two steps.
            breakdown: An event column of the first step (platform, channel, utm_source …)
                or a profile field or tag (gender, city_tier, value_layer …).
            segments: Break down by these segments instead (a person may be in several).
            since: First steps from this time on. until: First steps before this time.
        """
        from portraits.analytics.funnel import FunnelSpec, analyze_funnel

        self._check_events(list(steps) + [e.event for e in exclusions])
        person_field = breakdown if breakdown and breakdown not in EVENT_BREAKDOWNS else None
        spec = FunnelSpec(steps=list(steps), window=window, order=order,
                          exclusions=list(exclusions), start=since, end=until,
                          breakdown=None if person_field else breakdown)
        groups = None
        if segments:
            groups = self._segment_groups(segments)
        elif person_field:
            groups = self._field_groups(person_field)
        engine = self._ws.engine
        # Only the columns the funnel reads: the query reads its events once per step, and
        # DuckDB holds such a shared input whole (11 GB for 25.7M events with every column).
        read = ["message_id", "event", "timestamp", *([spec.breakdown] if spec.breakdown else [])]
        return analyze_funnel(self.table("events", read), spec, engine.to_arrow,
                              engine.materialize, groups)

    def paths(self, start: str | None = None, end: str | None = None, steps: int = 5,
              session_gap: timedelta = timedelta(minutes=30), collapse_repeats: bool = True,
              exclude: Sequence[str] = (), since: datetime | None = None,
              until: datetime | None = None, per_step: int = 8) -> PathResult:
        """Where sessions go from ``start`` (or lead to ``end``), and where they leave
        (docs/analytics/paths.md)."""
        from portraits.analytics.paths import PathSpec, analyze_paths

        self._check_events([e for e in (start, end) if e])
        spec = PathSpec(start=start, end=end, steps=steps, session_gap=session_gap,
                        collapse_repeats=collapse_repeats, exclude=list(exclude), since=since,
                        until=until, per_step=per_step)
        return analyze_paths(self.table("events"), spec, self._ws.engine.to_arrow)

    def retention(self, start_event: str | None = None, return_event: str | None = None,
                  cohort: Literal["first_time", "recurring"] = "first_time",
                  period: Period = "week", periods: int = 8,
                  mode: Literal["on", "on_or_after"] = "on", since: datetime | None = None,
                  until: datetime | None = None) -> RetentionResult:
        """Cohort retention over events (docs/analytics/retention.md)."""
        from portraits.analytics.retention import RetentionSpec, analyze_retention

        self._check_events([e for e in (start_event, return_event) if e])
        spec = RetentionSpec(start_event=start_event, return_event=return_event,
                             cohort=cohort, period=period, periods=periods, mode=mode,
                             since=since, until=until)
        return analyze_retention(self.table("events"), spec, self._ws.engine.to_arrow,
                                 self._ws.settings.current_time())

    def repurchase(self, period: Period = "month", periods: int = 6,
                   since: datetime | None = None,
                   until: datetime | None = None) -> RetentionResult:
        """Repurchase rate from the orders table (store orders too): first-time buyers by
        month of their first order, share who ordered again in or after period N."""
        from portraits.analytics.retention import RetentionSpec, analyze_retention
        from portraits.profile.consumption import counted
        from portraits.profile.spec import ProfileSpec

        orders = self.table("orders")
        paid = orders.filter(counted(orders, ProfileSpec()), orders.ordered_at.notnull())
        as_events = paid.select(CUSTOMER_ID, event=ibis.literal("Order Completed"),
                                timestamp=paid.ordered_at)
        spec = RetentionSpec.repurchase(period, periods).model_copy(
            update={"since": since, "until": until})
        return analyze_retention(as_events, spec, self._ws.engine.to_arrow,
                                 self._ws.settings.current_time())

    def sentiment(self, top: int = 10, min_count: int = 3) -> SentimentReport:
        """Score every review not scored before (Chinese with SnowNLP, English with VADER;
        docs/analytics/sentiment.md), store the scores as ``review_sentiment`` (the next
        profile build reads them: ``review_sentiment``, ``negative_reviews``) and report
        sentiment per category with its pain points."""
        from portraits.analytics.sentiment import analyze_sentiment

        ws = self._ws
        engine = ws.engine
        before = (engine.to_arrow(ws.table(self.SENTIMENT))
                  if engine.has_table(self.SENTIMENT) else None)
        report = analyze_sentiment(self.table("reviews"), ws.table("products"),
                                   engine.to_arrow, scored=before, top=top,
                                   min_count=min_count)
        engine.write(self.SENTIMENT, engine.materialize(report.scored))
        return report

    def _check_events(self, names: Sequence[str]) -> None:
        """Unknown event names are an error with a did-you-mean, not an empty result."""
        events = self._ws.table("events")
        known = set(self._ws.engine.to_arrow(events.select("event").distinct())
                    .column("event").to_pylist()) - {None}
        unknown = [n for n in names if n not in known]
        if unknown:
            hints = [f"'{n}'" + (f" ({h})" if (h := did_you_mean(n, known)) else "")
                     for n in unknown]
            raise PortraitsError(f"no event {', '.join(hints)} in the events table; events: "
                                 f"{', '.join(sorted(known)[:30])}")

    def _field_groups(self, field: str) -> ir.Table:
        """(customer_id, group) from a profile field or tag."""
        ws = self._ws
        fields = ws.segments.fields()
        if field not in fields:
            raise PortraitsError(
                f"cannot break down by '{field}': not an event column "
                f"({', '.join(EVENT_BREAKDOWNS)}), profile field or tag"
                + (f" ({hint})" if (hint := did_you_mean(field, [*fields, *EVENT_BREAKDOWNS]))
                   else ""))
        profiles = ws.profiles.table()
        if field in profiles.columns:
            base = profiles
        else:
            base = profiles.select(CUSTOMER_ID).join(ws.tags.table(), CUSTOMER_ID)
        return base.select(CUSTOMER_ID, group=base[field].cast("string").fill_null("(none)"))

    def _segment_groups(self, segments: Sequence[str]) -> ir.Table:
        """(customer_id, group) with one row per person and segment they belong to."""
        parts = [self._ws.segments.members(s).select(CUSTOMER_ID, group=ibis.literal(s))
                 for s in segments]
        return ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
