"""Benchmarks behind `haven bench`.

Each suite measures Haven against a "raw limit": plain asyncpg doing the same amount of
database work (same rows, same sizes, same commit pattern) on the same server, in the same
run, so the ratio says how much Haven's own work (encoding, sealing, hash chain, key
handling, the append function) costs on top of PostgreSQL itself.

* `services.bench.store`: the event store (`haven bench store`).
* `services.bench.report`: the table printed for a suite's results.
"""
