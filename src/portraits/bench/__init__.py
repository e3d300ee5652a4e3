"""Benchmarks a user can run (``portraits bench``): every stage of the batch pipeline at a
chosen size, on DuckDB and on Spark, beside a hand-written SQL floor and pandas."""
