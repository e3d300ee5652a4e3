"""Predictions (R5.7, R5.8): churn risk and purchase propensity, customer lifetime value,
recommendations and next-category demand.

Every model reads the canonical tables through :class:`PredictInputs` (Ibis expressions,
any engine), pulls what it fits on to Arrow/NumPy, and hands back one row per customer;
``ws.predict`` stores them in the ``predictions`` table so tags and segments read them
like any profile field.
"""

from portraits.predict.inputs import PredictInputs, ToArrow

__all__ = ["PredictInputs", "ToArrow"]
