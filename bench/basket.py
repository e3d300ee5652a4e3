"""Benchmark: basket rules — Portraits' two miners on DuckDB vs mlxtend's fpgrowth.

    uv run python bench/basket.py                       # 100,000 and 300,000 baskets
    uv run python bench/basket.py --baskets 100000 --min-support 0.001 --repeat 3
    uv run python bench/basket.py --lines 8 --threads 1   # bigger baskets, one DuckDB thread

Data (made once per size with a fixed seed, cached in bench/data/basket-<N>-<lines>-<items>/
as Parquet in row groups of 122,880 rows with zstd, as DuckDB writes a workspace's tables;
not timed): N orders (92% paid, 5% refunded, 3% cancelled), 1 + Poisson(3)
lines each (``--lines``), products drawn from a long-tailed (Zipf, s = 0.9) popularity
over 3,000 products (``--items``), a product now and then twice in one order, and 30
planted pairs (the partner joins its anchor's order with probability 0.6).

Each method runs in its own process per min_support (so each peak RSS is its own) on the
same files, with the same min_support and max_len, and the three sets of frequent
itemsets are compared: the same sets with the same supports (identical floats), or the
run fails. The timed spans:

- portraits ``matrix`` and ``relational`` (``BasketSpec.method``), on DuckDB with the
  three tables as views over the Parquet files (the way a workspace stores its tables,
  and DuckDB configured as its engine is): **itemsets** is ``mine_itemsets(…,
  named=False)``: from those tables to the frequent itemsets as ``fpgrowth`` returns
  them (item ids, counts, supports, and N, in an Arrow table), including Ibis building and
  compiling the query, DuckDB reading the Parquet files and running it, and (matrix) the
  transfer of the paid lines to Arrow, their coding, the sparse matrix and the counting;
  **+ rules + frames** is all of ``analyze_basket`` (the itemsets with the product names,
  which the matrix miner reads in a second query, then the rules, then the pandas result
  frames);
- mlxtend: ``fpgrowth`` alone (from the one-hot DataFrame to its itemsets); the one-hot
  encoding timed apart (paid lines → a boolean DataFrame, factorised with pandas and
  filled with NumPy: the fastest way we know; the lines and orders already in pandas, their
  Parquet reading not timed); and, for reference, the encoding the way mlxtend's
  documentation does it (baskets as lists through ``TransactionEncoder``).

Times are the best of ``--repeat`` runs in one process (the first run also reads the
Parquet metadata and warms the caches; it is reported too). Target (issue): at ≥ 100k
baskets, Portraits ≥ 10× faster than fpgrowth (compared on the itemsets span). Results
also go to bench/results/basket-<N>-<lines>-<items>-<min_support>.json.
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
ROW_GROUP = 122_880  # DuckDB's row group size: its scans run in parallel by row group
METHODS = ("matrix", "relational", "mlxtend")  # mlxtend last: the others are compared to it


def generated(baskets: int, lines: float, items: int) -> Path:
    """Parquet files orders, order_items and products for ``baskets`` orders (made once)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = BENCH / "data" / f"basket-{baskets}-{lines:g}-{items}"
    ready = folder / ".ready"
    if ready.exists() and json.loads(ready.read_text(encoding="utf-8")).get(
            "row_group_size") == ROW_GROUP:
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
    tables = {
        "order_items": {"order_id": ids[order], "line_no": line + 1,
                        "product_id": skus[product],
                        "quantity": 1 + rng.poisson(0.3, len(order))},
        "orders": {"order_id": ids, "status": rng.choice(
            np.array(["paid", "refunded", "cancelled"]), baskets, p=[0.92, 0.05, 0.03])},
        "products": {"product_id": skus, "name": np.char.add("商品 ", skus),
                     "category": np.char.add("类目 ", (np.arange(items) % 40).astype(str))}}
    for name, columns in tables.items():  # laid out as DuckDB writes a workspace's tables
        pq.write_table(pa.table(columns), folder / f"{name}.parquet",
                       row_group_size=ROW_GROUP, compression="zstd")
    ready.write_text(json.dumps({"anchors": skus[anchors].tolist(),
                                 "partners": skus[partners].tolist(),
                                 "row_group_size": ROW_GROUP}), encoding="utf-8")
    return folder


def run_portraits(folder: Path, method: str, min_support: float, max_len: int, repeat: int,
                  threads: int | None) -> dict[str, Any]:
    """One Portraits miner on DuckDB over the Parquet files; the itemsets go to a Parquet
    file."""
    import ibis
    import pandas  # noqa: F401  (imported before the clock starts, as for mlxtend)
    import pyarrow as pa
    import pyarrow.parquet as pq

    import portraits.analytics.itemsets  # noqa: F401  (NumPy, SciPy: imported before the clock)
    from portraits.analytics.basket import BasketSpec, analyze_basket, mine_itemsets

    # Configured as a workspace's DuckDB engine is (portraits.engine.duckdb).
    con = ibis.duckdb.connect(preserve_insertion_order=False,
                              **({"threads": threads} if threads else {}))
    lines, orders, products = (con.read_parquet(folder / f"{name}.parquet", table_name=name)
                               for name in ("order_items", "orders", "products"))
    spec = BasketSpec(min_support=min_support, max_len=max_len,
                      method=method)  # type: ignore[arg-type]
    mined, full = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        table, n, _ = mine_itemsets(lines, orders, products, spec, con.to_pyarrow,
                                    spec.method, named=False)  # type: ignore[arg-type]
        mined.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = analyze_basket(lines, orders, products, spec, con.to_pyarrow)
        full.append(time.perf_counter() - started)
    assert n == result.baskets and table.num_rows == len(result.itemsets())
    found = result.itemsets()
    pq.write_table(pa.table({"itemset": [list(s) for s in found["itemset"]],
                             "support": found["support"]}),
                   folder / f"{method}-{min_support:g}.parquet")
    return {"seconds": min(mined), "first": mined[0], "full_seconds": min(full),
            "baskets": result.baskets, "itemsets": len(found),
            "rules": len(result.to_pandas()), "peak_rss_mb": _peak()}


def run_mlxtend(folder: Path, method: str, min_support: float, max_len: int, repeat: int,
                threads: int | None) -> dict[str, Any]:
    """One-hot encoding, then mlxtend's fpgrowth; the itemsets go to a Parquet file."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mlxtend.frequent_patterns import fpgrowth

    del method, threads  # mlxtend runs in one thread
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
                             "support": found["support"]}),
                   folder / f"mlxtend-{min_support:g}.parquet")
    return {"seconds": min(mine), "encode_seconds": min(encode),
            "transaction_encoder_seconds": min(documented), "baskets": len(onehot),
            "itemsets": len(found), "peak_rss_mb": _peak()}


def _peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _same_itemsets(folder: Path, min_support: float) -> int:
    """The three methods' itemsets, compared: the same sets with the same supports."""
    import pyarrow.parquet as pq

    found = {}
    for method in METHODS:
        table = pq.read_table(folder / f"{method}-{min_support:g}.parquet").to_pylist()
        found[method] = {frozenset(r["itemset"]): r["support"] for r in table}
    for method in METHODS[1:]:
        if found[method] != found[METHODS[0]]:
            only = set(found[method]) ^ set(found[METHODS[0]])
            raise SystemExit(f"the itemsets of {method} and {METHODS[0]} differ: "
                             f"{len(only)} found by one only")
    return len(found[METHODS[0]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baskets", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--min-support", type=float, nargs="+", default=[0.001, 0.0005])
    parser.add_argument("--max-len", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lines", type=float, default=3.0,
                        help="mean order lines beyond the first (Poisson)")
    parser.add_argument("--items", type=int, default=3000, help="products in the catalogue")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    if args.worker:
        folder = generated(args.baskets[0], args.lines, args.items)
        run = run_mlxtend if args.worker == "mlxtend" else run_portraits
        print(json.dumps(run(folder, args.worker, args.min_support[0], args.max_len,
                             args.repeat, args.threads)))
        return

    from rich.console import Console

    console = Console(width=150)
    for baskets in args.baskets:
        folder = generated(baskets, args.lines, args.items)
        for support in args.min_support:
            results = {}
            for method in METHODS:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", method, "--baskets", str(baskets),
                     "--min-support", str(support), "--max-len", str(args.max_len),
                     "--repeat", str(args.repeat), "--lines", str(args.lines), "--items",
                     str(args.items),
                     *(["--threads", str(args.threads)] if args.threads else [])],
                    check=True, capture_output=True, text=True)
                results[method] = json.loads(out.stdout.strip().splitlines()[-1])
            itemsets = _same_itemsets(folder, support)
            console.print(_table(results, baskets, support, itemsets, args))
            out_file = BENCH / "results" / f"{folder.name}-{support:g}.json"
            out_file.parent.mkdir(exist_ok=True)
            out_file.write_text(json.dumps({
                "baskets": baskets, "min_support": support, "max_len": args.max_len,
                "lines": args.lines, "items": args.items, "threads": args.threads,
                "itemsets": itemsets, **results}, indent=1), encoding="utf-8")


def _table(results: dict[str, dict[str, Any]], baskets: int, support: float, itemsets: int,
           args: argparse.Namespace) -> Any:
    """One table per size and min_support: each method's times, speed-ups and memory."""
    from rich.table import Table

    m = results["mlxtend"]
    fpgrowth, encoded = m["seconds"], m["seconds"] + m["encode_seconds"]
    documented = m["seconds"] + m["transaction_encoder_seconds"]
    table = Table(title=f"{baskets:,} orders ({m['baskets']:,} paid baskets, 1 + "
                        f"Poisson({args.lines:g}) lines, {args.items:,} products), "
                        f"min_support {support:g}, max_len {args.max_len}, DuckDB threads "
                        f"{args.threads or 'all'}: {itemsets:,} frequent itemsets, the "
                        f"same for all three")
    for column in ("method", "itemsets s", "vs fpgrowth", "vs encoding + fpgrowth",
                   "+ rules + frames s", "peak RSS (MB)"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method in METHODS[:2]:
        p = results[method]
        table.add_row(f"portraits {method} (first run {p['first']:.3f} s; "
                      f"{p['rules']:,} rules)", f"{p['seconds']:.3f}",
                      f"{fpgrowth / p['seconds']:.1f}×", f"{encoded / p['seconds']:.1f}×",
                      f"{p['full_seconds']:.3f}", f"{p['peak_rss_mb']:,.0f}")
    table.add_row("mlxtend fpgrowth alone", f"{fpgrowth:.3f}", "", "", "",
                  f"{m['peak_rss_mb']:,.0f}")
    table.add_row("mlxtend one-hot encoding (NumPy)", f"{m['encode_seconds']:.3f}", "", "",
                  "", "")
    table.add_row("mlxtend encoding + fpgrowth", f"{encoded:.3f}", "", "", "", "")
    table.add_row("mlxtend TransactionEncoder + fpgrowth (as in its docs)",
                  f"{documented:.3f}", "", "", "", "")
    return table


if __name__ == "__main__":
    main()
