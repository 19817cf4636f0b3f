"""Disclosure control for federal aggregates (REFERENCE §3): model, suppression, exact audit.

`tables` models a release as sums of atomic counts over a versioned codebook; `suppression`
decides what may be published (`protect`); `targets` lays out what an audit must bound (the
cross-classification's cells, built once per universe); `audit` proves, over everything ever
released, that no count 1..10 and no group's sensitive attribute can be derived. Pure: no I/O, standard
library only — the integer solver comes in through the `audit.IntegerSolver` port
(`services.reporting.solver.HighsSolver` is HiGHS, through highspy).
"""
