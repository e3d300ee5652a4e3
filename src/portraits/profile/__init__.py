"""Profiles (画像): one row per customer with the four dimensions plus social (R3).

Pure Ibis transforms of canonical tables that carry a ``customer_id``; the same code runs
on DuckDB and Spark. ``docs/profiles.md`` documents every field.
"""

from portraits.profile.build import ProfileInputs, build_profiles, profile_interests
from portraits.profile.completeness import COMPLETENESS_FIELDS, completeness_summary
from portraits.profile.schema import INTEREST_FIELDS, PROFILE_FIELDS, ProfileField
from portraits.profile.spec import ProfileSpec

__all__ = [
    "COMPLETENESS_FIELDS",
    "INTEREST_FIELDS",
    "PROFILE_FIELDS",
    "ProfileField",
    "ProfileInputs",
    "ProfileSpec",
    "build_profiles",
    "completeness_summary",
    "profile_interests",
]
