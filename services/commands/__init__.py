"""The write path's use cases: load a case, let the domain decide, append, answer.

Nothing here speaks HTTP or SQL: the API turns requests into these calls and their answers
(or refusals, plain exceptions) into HTTP; the event store behind `CaseStore` does the I/O.
"""
