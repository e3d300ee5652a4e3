"""Behaviour analytics: segment description, funnels, paths, retention, clusters, basket
rules and review sentiment. Each analysis is a pure function of Ibis tables returning a
typed :class:`~portraits.analytics.result.Analysis` (``.to_pandas()``, ``.chart()``)."""

from portraits.analytics.chart import Chart
from portraits.analytics.result import Analysis

__all__ = ["Analysis", "Chart"]
