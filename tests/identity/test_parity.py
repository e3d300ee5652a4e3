"""Identity resolution gives the same people and the same history on Spark as on DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portraits.workspace.facade import Workspace
from tests.conftest import WorkspaceFactory
from tests.engine.test_parity import engine, on, spark_context  # noqa: F401  (fixtures)
from tests.identity.test_small import CRM, EVENTS, ORDERS, SPEC

RUN_SPECIFIC = {"run_id", "resolved_at"}


def resolved(root: Path, engine_name: str) -> dict[str, list[str]]:
    """Resolve in two steps (a new file in between) and return the identity tables."""
    with Workspace(root, settings=on(engine_name)) as ws:
        ws.ingest.load(["crm", "events"])
        ws.identity.resolve()
        (root / "orders.csv").write_text(ORDERS, encoding="utf-8")
        ws.ingest.load(["orders"])
        ws.identity.resolve()
        return {name: sorted(json.dumps({k: v for k, v in r.items() if k not in RUN_SPECIFIC},
                                        default=str, sort_keys=True)
                             for r in ws.engine.to_arrow(ws.table(name)).to_pylist())
                for name in ("customer_ids", "merge_history", "identities", "identity_links")}


@pytest.mark.xdist_group("spark")
def test_the_same_people_on_every_engine(engine: str,  # noqa: F811
                                         make_workspace: WorkspaceFactory) -> None:
    files = {"crm.csv": CRM, "events.csv": EVENTS, "orders.csv": "x\n"}
    want = resolved(make_workspace(SPEC, files, name="reference"), "duckdb")
    got = resolved(make_workspace(SPEC, files, name=engine), engine)
    for name in want:
        assert got[name] == want[name], name
