"""Typed specs of a workspace (``portraits.yaml``): engine, sources, mappings, cleaning,
identity rules.

Specs are backend-free pydantic models with ``extra="forbid"``; YAML is parsed into them
once by :mod:`portraits.workspace.loader`, which also adds file/line to every error.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from portraits.model.canonical import Action
from portraits.predict.spec import PredictSpec
from portraits.profile.rfm import RfmSpec

Transform = Literal["trim", "lower", "upper", "phone", "email", "digits"]
SourceFormat = Literal["csv", "excel", "jsonl", "parquet"]
EntityName = Literal["customers", "events", "orders", "order_items", "products", "reviews",
                     "consents"]


class Spec(BaseModel):
    """Base of every spec: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DuckDBEngineSpec(Spec):
    """The embedded default: DuckDB over the workspace's Parquet lake.

    Tables are Parquet folders under ``lake`` (the same layout the Spark engine uses);
    the database file holds a view per table, so the DuckDB CLI can open it directly.
    """

    kind: Literal["duckdb"] = "duckdb"
    database: str = ".portraits/portraits.duckdb"
    lake: str = ".portraits/lake"
    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None


class SparkEngineSpec(Spec):
    """Apache Spark: local mode or a cluster; tables live as Parquet in the lake folder."""

    kind: Literal["spark"] = "spark"
    master: str = "local[2]"
    lake: str = ".portraits/lake"
    config: dict[str, str] = Field(default_factory=dict)


EngineSpec = Annotated[DuckDBEngineSpec | SparkEngineSpec, Field(discriminator="kind")]


class ColumnMap(Spec):
    """How one canonical field is read from a source.

    Written in YAML either as a bare column name (``phone: 手机号``) or as a mapping
    (``gender: {column: 性别, map: {男: male, 女: female}}``).
    """

    column: str | None = None
    value: str | None = None
    transform: tuple[Transform, ...] = ()
    map: dict[str, str] | None = None
    map_default: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_bare_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"column": data}
        if isinstance(data, dict) and isinstance(data.get("transform"), str):
            return {**data, "transform": [data["transform"]]}
        return data

    @model_validator(mode="after")
    def _column_or_value(self) -> ColumnMap:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of 'column' (a source column) or 'value'")
        return self


class FillValue(Spec):
    """Fill missing values with a constant."""

    fill: str | float | int


MissingPolicy = Literal["drop", "flag", "median", "mode"] | FillValue


class DedupeSpec(Spec):
    """Rows with equal keys are duplicates; one is kept, the rest go to the rejects."""

    keys: tuple[str, ...] = Field(min_length=1)
    keep: Literal["first", "last"] = "first"
    order_by: str | None = None


class OutlierSpec(Spec):
    """A plausibility rule on one field, in addition to the model's built-in rules."""

    field: str
    min: float | None = None
    max: float | None = None
    greater_than: float | None = None
    not_before: date | None = None
    not_future: bool = False
    action: Action = "reject"
    rule: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> OutlierSpec:
        bounds = [self.min, self.max, self.greater_than, self.not_before]
        if sum(b is not None for b in bounds) + int(self.not_future) == 0:
            raise ValueError("give a bound: min, max, greater_than, not_before or not_future")
        return self


class CleaningSpec(Spec):
    """Cleaning rules of one source."""

    dedupe: DedupeSpec | None = None
    missing: dict[str, MissingPolicy] = Field(default_factory=dict)
    outliers: tuple[OutlierSpec, ...] = ()
    builtin_outliers: bool = True
    invalid: Literal["null", "reject"] = "null"


class SourceSpec(Spec):
    """One kind of input file and how it maps onto a canonical entity."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    entity: EntityName
    path: str
    format: SourceFormat | None = None
    encoding: str = "auto"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | int | None = None
    phone_region: str | None = None
    columns: dict[str, ColumnMap]
    cleaning: CleaningSpec = CleaningSpec()


Normalisation = Literal["trim", "lower", "upper", "digits"]


class IdentityTypeSpec(Spec):
    """Rules of one identifier type (``identity.types.<type>``).

    Settings left out keep the built-in default of the type (docs/identity.md).

    Attributes:
        priority: Higher wins: a record is attached to the customer of its highest-priority
            identifier, and ``max_people`` counts people in higher-priority types.
        max_people: An identifier seen with more distinct values than this of any one
            higher-priority person type (a device with two members' logins) is shared and
            not used to merge; 0 means no limit.
        junk: Placeholder values never used to merge, in addition to the built-in ones.
        junk_patterns: Regular expressions for placeholder values (RE2 syntax, no
            back-references, so DuckDB and Spark read them alike).
        builtin_junk: Whether the built-in placeholder values apply as well.
        normalize: Steps applied to every value before matching (default ``trim``;
            e-mails ``trim, lower``).
        same_as: Values of this type are values of another type (``user_id: {same_as:
            member_id}``): they join one namespace and share its rules.
        person: Whether a value stands for one person (member ids, phones), so that
            ``max_people`` counts it; devices and cookies do not.
    """

    priority: int | None = None
    max_people: int | None = Field(default=None, ge=0)
    junk: tuple[str, ...] = ()
    junk_patterns: tuple[str, ...] = ()
    builtin_junk: bool = True
    normalize: tuple[Normalisation, ...] | None = None
    same_as: str | None = None
    person: bool | None = None

    @model_validator(mode="after")
    def _alias_has_no_rules(self) -> IdentityTypeSpec:
        if self.same_as is not None and self.model_fields_set - {"same_as"}:
            raise ValueError("a type with 'same_as' uses the rules of that type; "
                             "give its other settings there")
        return self


# Birthdays that systems write when nobody knew the date: the Excel and Unix epochs and
# the first day of 1900/1901 that date pickers and imports default to.
JUNK_BIRTHDAYS: tuple[date, ...] = (date(1899, 12, 30), date(1899, 12, 31), date(1900, 1, 1),
                                    date(1901, 1, 1), date(1970, 1, 1))


class MatchingSpec(Spec):
    """Probabilistic matching of customer records (``identity.matching``).

    Attributes:
        enabled: Match customer records that share no identifier (Splink).
        threshold: Pairs at or above this match probability link their records in the ID
            graph.
        review_above: Pairs from here up to ``threshold`` go to the review list.
        max_pairs: Random pairs sampled to estimate how often values agree by chance, and
            the most candidate pairs each training step (expectation maximisation) reads:
            past it, training reads a deterministic sample of the records.
        seed: Seed of that sample, so runs are reproducible.
        max_block_size: The most records that may share one blocking key (a birthday and
            gender, a phone, a name and city, an e-mail). A key shared by more is left
            out of *that* rule, since its records would make pairs with the square of
            their number (17,500 records of one placeholder birthday are 150 million
            pairs), and a value so common says little about who is who; the other rules
            still pair those records. The keys left out are stored in
            ``match_skipped_keys``. 0 means no limit.
        junk_birthdays: Birthdays taken as unknown when matching: placeholders systems
            write when nobody knew the date, which two strangers share. Give the whole
            list (``[]`` for none); the default is 1899-12-30, 1899-12-31, 1900-01-01,
            1901-01-01 and 1970-01-01.
    """

    enabled: bool = True
    threshold: float = Field(0.95, gt=0, lt=1)
    review_above: float = Field(0.5, gt=0, lt=1)
    max_pairs: int = Field(1_000_000, gt=0)
    seed: int = 42
    max_block_size: int = Field(500, ge=0)
    junk_birthdays: tuple[date, ...] = JUNK_BIRTHDAYS

    @model_validator(mode="after")
    def _valid_settings(self) -> MatchingSpec:
        if self.review_above > self.threshold:
            raise ValueError("review_above must not be above threshold")
        if self.max_block_size == 1:
            raise ValueError("max_block_size must be 0 (no limit) or at least 2: a key of "
                             "one record makes no pair")
        return self


class IdentitySpec(Spec):
    """Identity resolution rules (``identity:``); every setting has a default.

    Attributes:
        types: Rules per identifier type; a name that is not a built-in type declares a
            new one (give it a priority).
        fields: Which type a canonical field carries, as ``entity.field: type``; overrides
            the model (``customers.source_id: crm_id``).
        matching: Probabilistic matching of customer records.
    """

    types: dict[str, IdentityTypeSpec] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)
    matching: MatchingSpec = MatchingSpec()


class WorkspaceSpec(Spec):
    """The whole ``portraits.yaml``."""

    version: Literal[1] = 1
    name: str
    engine: EngineSpec = DuckDBEngineSpec()
    data_dir: str = "data"
    timezone: str = Field(default="+08:00", pattern=r"^[+-]\d{2}:\d{2}$")
    phone_region: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    sources: tuple[SourceSpec, ...] = ()
    identity: IdentitySpec = IdentitySpec()
    rfm: RfmSpec = RfmSpec()
    predict: PredictSpec = PredictSpec()

    def source(self, name: str) -> SourceSpec:
        """The source called ``name`` (KeyError if unknown)."""
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)
