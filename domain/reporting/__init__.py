"""Disclosure control for federal aggregates (REFERENCE §3): model, suppression, exact audit.

`tables` models a release as sums of atomic counts over a versioned codebook; `ledger` holds
every publication and the facts it gives away; `suppression` decides what may be published
(`protect`); `targets` and `publication_targets` lay out what an audit must bound; `audit`
proves, over everything ever released (`linked`: families over the same people as one
system), that no count 1..10 and no group's sensitive attribute can be derived. Pure: no I/O,
standard library only — the integer solver comes in through the
`integer_programs.IntegerSolver` port (`services.reporting.solver.HighsSolver` is HiGHS).
"""
