"""Benchmarks behind `haven bench`: tools to measure the service, not part of it.

Each suite measures Haven against a "raw limit": plain asyncpg doing the same amount of
database work (same rows, same sizes, same commit pattern) on the same server, in the same
run, so the ratio says how much Haven's own work (encoding, sealing, hash chain, key
handling, the append function) costs on top of PostgreSQL itself.

* `services.bench.store`: the event store (`haven bench store`).
* `services.bench.workload`: the store work ours and raw, shared by the suites.
* `services.bench.timing`: driving, parallel jobs and percentiles.
* `services.bench.report`: the table printed for a suite's results.

`haven bench http` drives the API with an HTTP client that the service itself does not
need: it comes with the `bench` extra (`pip install 'haven[bench]'`).
"""
