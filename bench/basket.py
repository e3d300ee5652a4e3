"""Benchmark: basket rules — Portraits' relational miner on DuckDB vs mlxtend's fpgrowth.

    uv run python bench/basket.py                       # 100,000 and 300,000 baskets
    uv run python bench/basket.py --baskets 100000 --repeat 1
    uv run python bench/basket.py --lines 8 --threads 1   # bigger baskets, one DuckDB thread

Data (made once per size with a fixed seed, cached in bench/data/basket-<N>-<lines>-<items>/
as Parquet, not timed): N orders (92% paid, 5% refunded, 3% cancelled), 1 + Poisson(3)
lines each (``--lines``), products drawn from a long-tailed (Zipf, s = 0.9) popularity
over 3,000 products (``--items``), a product now and then twice in one order, and 30
planted pairs (the partner joins its anchor's order with probability 0.6).

Each method runs in its own process (so each peak RSS is its own) on the same files, with
the same min_support and max_len, and the frequent itemsets are compared: the same sets
with the same supports, or the run fails.

- portraits: ``baskets`` + ``frequent_itemsets`` + ``association_rules`` through
  ``analyze_basket`` (the whole analysis: paid orders, distinct items, itemsets, rules,
  result frames) on DuckDB over the Parquet files;
- mlxtend: the one-hot encoding (paid lines → a boolean DataFrame, factorised with pandas
  and filled with NumPy: the fastest way we know) timed apart from ``fpgrowth`` itself;
  and, for reference, the encoding the way mlxtend's documentation does it (baskets as
  lists through ``TransactionEncoder``).

Times are the best of ``--repeat`` runs in one process (the first DuckDB run also reads
the Parquet metadata). Target (issue): at ≥ 100k baskets, Portraits ≥ 10× faster than
fpgrowth. Results also go to bench/results/basket-<N>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ZIPF = 0.9
PAIRS = 30
PAIR_PROBABILITY = 0.6


def generated(baskets: int, lines: float, items: int) -> Path:
    """Parquet files orders, order_items and products for ``baskets`` orders (made once)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = BENCH / "data" / f"basket-{baskets}-{lines:g}-{items}"
    if (folder / ".ready").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    weight = 1 / np.arange(1, items + 1) ** ZIPF
    size = 1 + rng.poisson(lines, baskets)
    order = np.repeat(np.arange(baskets), size)
    product = rng.choice(items, size=len(order), p=weight / weight.sum())
    anchors = rng.choice(np.arange(20, items // 8), PAIRS, replace=False)
    partners = rng.choice(np.arange(items // 8, items // 2), PAIRS, replace=False)
    partner_of = np.full(items, -1)
    partner_of[anchors] = partners
    added = (partner_of[product] >= 0) & (rng.random(len(order)) < PAIR_PROBABILITY)
    order = np.concatenate([order, order[added]])
    product = np.concatenate([product, partner_of[product[added]]])
    sort = np.argsort(order, kind="stable")
    order, product = order[sort], product[sort]
    line = np.arange(len(order)) - np.searchsorted(order, order)
    ids = np.char.add("O", np.char.zfill(np.arange(baskets).astype(str), 8))
    skus = np.char.add("SKU", np.char.zfill(np.arange(items).astype(str), 5))
    pq.write_table(pa.table({"order_id": ids[order], "line_no": line + 1,
                             "product_id": skus[product],
                             "quantity": 1 + rng.poisson(0.3, len(order))}),
                   folder / "order_items.parquet")
    pq.write_table(pa.table({"order_id": ids, "status": rng.choice(
        np.array(["paid", "refunded", "cancelled"]), baskets, p=[0.92, 0.05, 0.03])}),
        folder / "orders.parquet")
    pq.write_table(pa.table({"product_id": skus, "name": np.char.add("商品 ", skus),
                             "category": np.char.add("类目 ", (np.arange(items) % 40)
                                                     .astype(str))}),
                   folder / "products.parquet")
    (folder / ".ready").write_text(json.dumps({"anchors": skus[anchors].tolist(),
                                               "partners": skus[partners].tolist()}),
                                   encoding="utf-8")
    return folder


def run_portraits(folder: Path, min_support: float, max_len: int, repeat: int,
                  threads: int | None) -> dict[str, Any]:
    """Portraits on DuckDB over the Parquet files; the itemsets go to a Parquet file."""
    import ibis
    import pandas  # noqa: F401  (imported before the clock starts, as for mlxtend)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from portraits.analytics.basket import BasketSpec, analyze_basket

    con = ibis.duckdb.connect(**({"threads": threads} if threads else {}))
    tables = {name: con.read_parquet(folder / f"{name}.parquet", table_name=name)
              for name in ("orders", "order_items", "products")}
    spec = BasketSpec(min_support=min_support, max_len=max_len)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = analyze_basket(tables["order_items"], tables["orders"], tables["products"],
                                spec, con.to_pyarrow)
        times.append(time.perf_counter() - started)
    itemsets = result.itemsets()
    pq.write_table(pa.table({"itemset": [list(s) for s in itemsets["itemset"]],
                             "support": itemsets["support"]}), folder / "portraits.parquet")
    return {"seconds": min(times), "first": times[0], "baskets": result.baskets,
            "itemsets": len(itemsets), "rules": len(result.to_pandas()),
            "peak_rss_mb": _peak()}


def run_mlxtend(folder: Path, min_support: float, max_len: int, repeat: int,
                threads: int | None) -> dict[str, Any]:
    """One-hot encoding, then mlxtend's fpgrowth; the itemsets go to a Parquet file."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mlxtend.frequent_patterns import fpgrowth

    del threads  # mlxtend runs in one thread
    lines = pd.read_parquet(folder / "order_items.parquet",
                            columns=["order_id", "product_id", "quantity"])
    orders = pd.read_parquet(folder / "orders.parquet")
    encode, mine = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        paid = orders.loc[~orders["status"].str.strip().str.lower().isin(
            ("cancelled", "canceled", "refunded", "returned")), "order_id"]
        kept = lines[lines["order_id"].isin(paid) & (lines["quantity"] > 0)]
        rows, _ = pd.factorize(kept["order_id"])
        columns, names = pd.factorize(kept["product_id"])
        matrix = np.zeros((rows.max() + 1, len(names)), dtype=bool)
        matrix[rows, columns] = True
        onehot = pd.DataFrame(matrix, columns=names)
        encode.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=max_len)
        mine.append(time.perf_counter() - started)
    from mlxtend.preprocessing import TransactionEncoder

    documented = []  # mlxtend's own encoder, the way its documentation encodes baskets
    for _ in range(repeat):
        started = time.perf_counter()
        paid = orders.loc[~orders["status"].str.strip().str.lower().isin(
            ("cancelled", "canceled", "refunded", "returned")), "order_id"]
        kept = lines[lines["order_id"].isin(paid) & (lines["quantity"] > 0)]
        baskets = kept.groupby("order_id", sort=False)["product_id"].agg(list).tolist()
        encoder = TransactionEncoder()
        pd.DataFrame(encoder.fit(baskets).transform(baskets), columns=encoder.columns_)
        documented.append(time.perf_counter() - started)
    pq.write_table(pa.table({"itemset": [sorted(s) for s in found["itemsets"]],
                             "support": found["support"]}), folder / "mlxtend.parquet")
    return {"seconds": min(mine), "encode_seconds": min(encode),
            "transaction_encoder_seconds": min(documented), "baskets": len(onehot),
            "itemsets": len(found), "peak_rss_mb": _peak()}


def _peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _same_itemsets(folder: Path) -> int:
    """The two methods' itemsets, compared: the same sets with the same supports."""
    import pyarrow.parquet as pq

    found = {}
    for method in ("portraits", "mlxtend"):
        table = pq.read_table(folder / f"{method}.parquet").to_pylist()
        found[method] = {frozenset(r["itemset"]): r["support"] for r in table}
    if found["portraits"] != found["mlxtend"]:
        only = set(found["portraits"]) ^ set(found["mlxtend"])
        raise SystemExit(f"the itemsets differ: {len(only)} found by one method only")
    return len(found["portraits"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baskets", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--min-support", type=float, default=0.001)
    parser.add_argument("--max-len", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lines", type=float, default=3.0,
                        help="mean order lines beyond the first (Poisson)")
    parser.add_argument("--items", type=int, default=3000, help="products in the catalogue")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--worker", choices=["portraits", "mlxtend"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    if args.worker:
        folder = generated(args.baskets[0], args.lines, args.items)
        run = run_portraits if args.worker == "portraits" else run_mlxtend
        print(json.dumps(run(folder, args.min_support, args.max_len, args.repeat,
                             args.threads)))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    for baskets in args.baskets:
        folder = generated(baskets, args.lines, args.items)
        results = {}
        for method in ("portraits", "mlxtend"):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", method, "--baskets", str(baskets),
                 "--min-support", str(args.min_support), "--max-len", str(args.max_len),
                 "--repeat", str(args.repeat), "--lines", str(args.lines), "--items",
                 str(args.items), *(["--threads", str(args.threads)] if args.threads else [])],
                check=True, capture_output=True, text=True)
            results[method] = json.loads(out.stdout.strip().splitlines()[-1])
        itemsets = _same_itemsets(folder)
        p, m = results["portraits"], results["mlxtend"]
        table = Table(title=f"{baskets:,} orders ({p['baskets']:,} paid baskets, 1 + "
                            f"Poisson({args.lines:g}) lines, {args.items:,} products), "
                            f"min_support {args.min_support:g}, max_len {args.max_len}, "
                            f"DuckDB threads {args.threads or 'all'}: {itemsets:,} frequent "
                            f"itemsets, the same for both")
        for column in ("method", "wall s", "speed-up", "peak RSS (MB)"):
            table.add_column(column, justify="left" if column == "method" else "right")
        with_encoding = m["seconds"] + m["encode_seconds"]
        table.add_row(f"portraits on DuckDB (first run {p['first']:.2f} s; "
                      f"{p['rules']:,} rules)", f"{p['seconds']:.3f}", "",
                      f"{p['peak_rss_mb']:,.0f}")
        table.add_row("mlxtend fpgrowth", f"{m['seconds']:.3f}",
                      f"{m['seconds'] / p['seconds']:.1f}×", f"{m['peak_rss_mb']:,.0f}")
        table.add_row("mlxtend one-hot encoding", f"{m['encode_seconds']:.3f}", "", "")
        table.add_row("mlxtend encoding + fpgrowth", f"{with_encoding:.3f}",
                      f"{with_encoding / p['seconds']:.1f}×", "")
        documented = m["transaction_encoder_seconds"] + m["seconds"]
        table.add_row("mlxtend TransactionEncoder (as in its docs)",
                      f"{m['transaction_encoder_seconds']:.3f}", "", "")
        table.add_row("mlxtend TransactionEncoder + fpgrowth", f"{documented:.3f}",
                      f"{documented / p['seconds']:.1f}×", "")
        console.print(table)
        out_file = BENCH / "results" / f"{folder.name}.json"
        out_file.parent.mkdir(exist_ok=True)
        out_file.write_text(json.dumps({"baskets": baskets, "min_support": args.min_support,
                                        "max_len": args.max_len, "lines": args.lines,
                                        "items": args.items, "threads": args.threads,
                                        "itemsets": itemsets, "portraits": p, "mlxtend": m},
                                       indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
