"""Benchmark check: probabilistic matching at size against the generator's planted truth.

    uv run python bench/matching_truth.py bench-data/ws-duckdb-1000000

Reads a workspace whose identity has been resolved (``portraits bench`` leaves one per
engine; ``portraits identity resolve`` makes one) and its data folder's truth files, and
prints a table per planted typo kind (a mistyped name, phone, both, or a rewritten
address): planted pairs, pairs scored at or above ``review_above``, pairs decided
``match``, and pairs whose records ended with one customer id. Then precision (matched
pairs whose two records are one planted person) and recall (planted pairs joined), and the
blocking keys left out for being too common (``match_skipped_keys``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table


def truth_frames(data: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """The planted CRM duplicate pairs (a, b, typo) and member id → planted person."""
    truth = json.loads((data / "truth" / "truth.json").read_text(encoding="utf-8"))
    planted = pd.DataFrame([{"a": d["member_id"], "b": d["duplicate_member_id"],
                             "typo": d["typo"]} for d in truth["crm_duplicates"]])
    people = pq.read_table(data / "truth" / "people.parquet",
                           columns=["person_id", "member_id", "duplicate_member_id",
                                    "store_member_id"]).to_pandas()
    person: dict[str, str] = {}
    for column in ("member_id", "duplicate_member_id", "store_member_id"):
        known = people[people[column].notna()]
        person.update(zip(known[column], known["person_id"], strict=True))
    return planted, person


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    args = parser.parse_args()
    from portraits import Workspace
    from portraits.settings import Settings

    planted, person = truth_frames(args.workspace / "data")
    with Workspace(args.workspace, settings=Settings(lang="en")) as ws:
        pairs = ws.table("match_pairs").select(
            "left_source_id", "right_source_id", "decision").to_pandas()
        ids = ws.table("customer_ids")
        members = ids.filter(ids.id_type == "member_id").select(
            "id_value", "customer_id").to_pandas()
        skipped = (ws.table("match_skipped_keys").to_pandas()
                   if ws.engine.has_table("match_skipped_keys") else pd.DataFrame())
    customer = dict(zip(members.id_value, members.customer_id, strict=True))
    pair_key = [frozenset(p) for p in zip(pairs.left_source_id, pairs.right_source_id,
                                          strict=True)]
    decision = dict(zip(pair_key, pairs.decision, strict=True))
    planted["key"] = [frozenset(p) for p in zip(planted.a, planted.b, strict=True)]
    planted["scored"] = planted.key.map(lambda k: k in decision)
    planted["matched"] = planted.key.map(lambda k: decision.get(k) == "match")
    planted["joined"] = [customer.get(a) is not None and customer.get(a) == customer.get(b)
                         for a, b in zip(planted.a, planted.b, strict=True)]
    matched = pairs[pairs.decision == "match"]
    same = [person.get(a) is not None and person.get(a) == person.get(b)
            for a, b in zip(matched.left_source_id, matched.right_source_id, strict=True)]

    table = Table(title=f"Planted CRM duplicates in {args.workspace.name}")
    for column in ("typo", "planted", "scored", "matched", "joined", "recall"):
        table.add_column(column, justify="left" if column == "typo" else "right")
    for typo, group in [*planted.groupby("typo"), ("all", planted)]:
        table.add_row(str(typo), f"{len(group):,}", f"{group.scored.sum():,}",
                      f"{group.matched.sum():,}", f"{group.joined.sum():,}",
                      f"{group.joined.mean():.4f}")
    console = Console()
    console.print(table)
    console.print(f"matched pairs {len(matched):,}, of one planted person {sum(same):,}: "
                  f"precision {sum(same) / max(len(matched), 1):.5f}; "
                  f"recall {planted.joined.mean():.4f}")
    if len(skipped):
        print("blocking keys left out (largest first):")
        print(skipped.head(10).to_string(index=False))


if __name__ == "__main__":
    main()
