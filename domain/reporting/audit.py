"""The disclosure audit: what an outsider can infer from everything ever released.

Each published number is a fact over the atoms (non-negative integer unknowns); the audit
decides, exactly over the integers, whether all the facts together pin a count to 1..k-1 or
leave a group only one category (REFERENCE §3.3, §3.5). A *safe* verdict rests on a witness
checked here in integer arithmetic, never on a floating-point solver's word, so an error of
the solver can only block a safe release, never pass an unsafe one. What is audited, and
what is not, is the docstring of `audit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from domain.reporting.integer_programs import (
    IntegerProgram,
    IntegerSolver,
    LinearSystem,
    Row,
    SolverFailed,
    Terms,
    dot,
    terms_of_sum,
)
from domain.reporting.ledger import Ledger
from domain.reporting.linked import Linked
from domain.reporting.targets import Target

K = 11  # CMS threshold: no count 1..K-1 is published or derivable


class InconsistentLedger(ValueError):
    """The ledger's facts admit no point, or the true counts contradict them.

    Usually a revision released over the same atoms as its original: model late and
    corrected records as a vintage dimension so that both releases stay true.
    """


@dataclass(frozen=True)
class Finding:
    """A target the audit blocks, and why.

    That a cell is blocked tells whoever reads it that the cell is small and non-zero, and a
    group finding tells that the group is concentrated. A finding therefore carries
    coordinates for the program (protection needs them), but its `repr` and `describe()` name
    only the kind, the reason, the release and the table; never a count, never an interval,
    never which category a group is concentrated in. Treat `coordinates` like the counts
    themselves: never log it, never return it over HTTP.
    """

    reason: str  # "derivable_small" | "pinned" | "single_category" | "undecided"
    target: Target = field(repr=False)

    @property
    def kind(self) -> str:
        return self.target.kind

    @property
    def coordinates(self) -> dict[str, str]:
        """Where (sensitive: reveals that the cell is small and non-zero; never log it)."""
        return dict(self.target.coordinates)

    def describe(self) -> str:
        where = "/".join(part for part in (self.target.release, self.target.table) if part)
        return f"{self.target.kind} {self.reason}" + (f" in {where}" if where else "")

    def __repr__(self) -> str:
        return f"Finding({self.describe()!r})"


@dataclass(frozen=True)
class AuditResult:
    findings: tuple[Finding, ...]
    targets: int
    solves: int

    @property
    def ok(self) -> bool:
        return not self.findings


def ledger_system(
    ledger: Ledger | Linked, truth: Sequence[int] | None = None, k: int = K
) -> LinearSystem:
    """Every fact of a ledger (or of linked ledgers and their link rows) as one integer
    system."""
    linked = ledger if isinstance(ledger, Linked) else Linked((ledger,))
    rows = linked.rows()
    published = [abs(row.low) for row in rows if row.low is not None and row.low == row.high]
    bound = 2 * max([*published, *(truth or ()), 0]) + 2 * k
    upper = [bound] * linked.size
    for row in rows:  # a published zero over non-negative atoms fixes each of them at zero
        if row.low == row.high == 0 and all(c > 0 for _, c in row.terms):
            for v, _ in row.terms:
                upper[v] = 0
    return LinearSystem((0,) * linked.size, tuple(upper), tuple(rows))


class _Open:
    """What the pool has shown so far about one target."""

    __slots__ = ("target", "values", "possible")  # one per target: tens of thousands per audit

    def __init__(self, target: Target) -> None:
        self.target = target
        self.values: set[int] = set()
        self.possible: set[int] = set()  # group: categories seen non-zero

    def see(self, point: Sequence[int]) -> None:
        if self.target.categories:
            self.possible.update(
                i for i, terms in enumerate(self.target.categories) if dot(terms, point) >= 1
            )
        else:
            self.values.add(dot(self.target.terms, point))

    def safe(self, k: int) -> bool:
        if self.target.categories:
            return len(self.possible) >= 2
        if 0 in self.values:
            return True
        if self.target.signed:
            return max(map(abs, self.values), default=0) >= k
        return max(self.values, default=0) >= k and (not self.target.pin or len(self.values) >= 2)


class _Auditor:
    def __init__(
        self,
        system: LinearSystem,
        solver: IntegerSolver,
        k: int,
        linked: Linked | None = None,
        truth: Sequence[int] | None = None,
    ) -> None:
        self.system, self.solver, self.k = system, solver, k
        self.linked, self.truth = linked, truth
        self.locals: dict[tuple[int, bool], LinearSystem] = {}
        self.solves = 0

    def find_local(self, extra: Sequence[Row]) -> tuple[int, ...] | bool:
        """The block shortcuts of linked ledgers (`Linked.local`) for rows within one block: a
        verified point of the whole system found within the block (its link classes and every
        other variable at the truth); False when the block alone, a relaxation, has no point
        (so the whole system has none); True when neither settles it."""
        linked, truth = self.linked, self.truth
        if linked is None or linked.link is None or not extra:
            return True
        block = linked.block_of(tuple(sorted({t for row in extra for t in row.terms})))
        if block is None:
            return True
        low = linked.offsets[block]
        local_extra = tuple(
            Row(tuple((v - low, c) for v, c in row.terms), row.low, row.high) for row in extra
        )
        for held in (True, False) if truth is not None else (False,):
            if (block, held) not in self.locals:
                self.locals[(block, held)] = linked.local(
                    self.system, truth if held else None, block
                )
            self.solves += 1
            try:
                found = self.solver.solve(IntegerProgram(self.locals[(block, held)], local_extra))
            except SolverFailed:
                continue
            if found is None:
                if not held:
                    return False  # infeasible in a relaxation: infeasible
                continue
            if held:
                assert truth is not None
                point = list(truth)
                point[low : low + len(found)] = (int(x) for x in found)
                if self.system.holds(point, extra):
                    return tuple(point)
        return True

    def find(
        self, extra: Sequence[Row] = (), objective: Terms = (), maximise: bool = False
    ) -> tuple[int, ...] | None:
        """A verified point, or None when the solver proves there is none. SolverFailed passes
        up."""
        if not objective:
            local = self.find_local(extra)
            if local is False:
                return None
            if local is not True:
                return local
        self.solves += 1
        point = self.solver.solve(IntegerProgram(self.system, tuple(extra), objective, maximise))
        if point is None:
            return None
        point = tuple(int(x) for x in point)
        if not self.system.holds(point, extra):
            raise SolverFailed("the solver returned a point that does not satisfy the ledger")
        return point


def audit(
    ledger: Ledger | Linked, solver: IntegerSolver, truth: Sequence[int] | None = None, k: int = K
) -> AuditResult:
    """Audit everything the ledger (or the linked ledgers) published. `truth`: the true counts
    of every variable (`Linked.vector`), if known (a shortcut).

    The ledger holds every publication — every table, quarter, year-to-date, organisation
    level and revision. Each published number is an equation over the atoms; each published
    percentage is a pair of inequalities (§3.3). The *targets*, and when each is blocked:

    * every cell of the universe's full cross-classification with its margins — each atom,
      and each sum of atoms fixing some dimensions and totalling the rest ("late records, any
      type", "minors, non-binary, foreign national, any organisation") — unless it contains
      an atom no publication constrains (that atom alone can make it large): blocked if its
      feasible values lie inside 1..k-1 (pinned to a small value included);
    * every suppressed cell of every publication: blocked as an atom is, and also if it is
      pinned to any single non-zero value (a suppression that can be undone protects
      nothing);
    * the sum of the suppressed parts of each table line (collapsing the suppressed
      categories of a row must not give a small count either): blocked as an atom is;
    * the difference of two published cells whose selections differ in one dimension, one
      inside the other (a revision minus its original, a year-to-date minus a quarter, a
      roll-up minus an organisation, a category group minus one of its codes): blocked as an
      atom is;
    * the change of a cell between two releases (`Ledger.changes`: two published cells that
      differ only in their record vintages, neither inside the other — a revision after an
      erasure or a correction against its original): blocked if every value it can take lies
      in 1..k-1 or in -(k-1)..-1;
    * the difference of two cells of different vintages that also differ in one more
      dimension, one code set inside the other (a revised all-clients total minus the
      original's consenting-only total: the clients without consent plus the late records):
      blocked as a change is;
    * with `Ledger.units`, each of these for every unit's cells, released or not yet: what
      the other units publish must not pin what a unit will publish later;
    * every outsider-identifiable group — each row of a table across a sensitive
      classification, and each declared `Group` — must keep at least two categories of the
      breakdown possible whenever it can have members (§3.5); otherwise "all clients of
      agency X were labour-trafficking victims" is derivable.

    **How.** A target is *safe* as soon as an integer point satisfying every fact shows it:
    the target at zero, or at k or more (and, for a suppressed cell, two different values);
    for a group, two categories each non-zero at some point. Points are pooled and each is
    checked against every open target, so one solve usually settles many: the true counts
    (when given) first, then one solve minimising and one maximising the sum of all open
    targets, then per open target a feasibility problem ("this target = 0", else ">= k",
    else "some other category >= 1"). A *blocked* verdict rests on the solver's proof of
    infeasibility (`IntegerSolver`); a solver failure is reported as `undecided`, which
    blocks too.

    **Cost.** With n constrained atoms, m facts and T targets (the cross-classification alone
    has up to prod(codes_i + 1) cells, `targets`): at most 2 + 3T integer programs of n
    variables and m + 1 rows (suppressed cells need up to two more). The pool makes the
    typical count far smaller — every target whose truth is zero, and most whose truth is
    large, are settled by the truth or the two sum solves — so the solves left are for small
    non-zero targets, roughly the suppressed cells. Integer programming is NP-hard in
    general; tables with margins are nearly totally unimodular, and the LP relaxation
    settles most.

    **Not guaranteed.** Only the targets above are audited: an arbitrary linear combination
    of atoms that is none of them (two suppressed cells of different tables added together, a
    union of codes of one dimension that no table publishes, the difference of two cells that
    differ in more than one dimension besides the vintage) is not checked. Atoms are bounded
    above by `ledger_system`'s bound (twice the largest number published or true, plus 2k),
    which can only make the audit stricter. The audit assumes an outsider who knows the
    codebook, the table layouts and every published number, and nothing else (no
    individual's record: a person who knows their own record learns more, as with any
    aggregate).
    """
    linked = ledger if isinstance(ledger, Linked) else Linked((ledger,))
    system = ledger_system(linked, truth, k)
    auditor = _Auditor(system, solver, k, linked, truth)
    opens = [_Open(t) for t in linked.targets(system.rows)]
    # The targets no point has shown safe yet, in order. Points are only ever added, so a target
    # once safe stays safe: each point is checked against the few still open, not against all.
    unsettled = opens

    def add(point: Sequence[int]) -> None:
        nonlocal unsettled
        still = []
        for state in unsettled:
            if not state.safe(k):
                state.see(point)
                if not state.safe(k):
                    still.append(state)
        unsettled = still

    if truth is not None:
        if not system.holds(truth):
            raise InconsistentLedger("the true counts contradict a published number")
        add(truth)
    else:
        first = auditor.find()
        if first is None:
            raise InconsistentLedger("no counts satisfy every published number")
        add(first)
    for maximise in (False, True):  # one point pushing every open target down, one pushing up
        pending = [s.target for s in unsettled if not s.safe(k)]
        if not pending:
            break
        objective = terms_of_sum([t.terms or terms_of_sum(t.categories) for t in pending])
        try:
            point = auditor.find(objective=objective, maximise=maximise)
        except SolverFailed:
            point = None
        if point is not None:
            add(point)

    findings = []
    for state in list(unsettled):  # `_settle` adds points: a target met later may be safe by then
        if state.safe(k):
            continue
        try:
            reason = _settle(state, auditor, add)
        except SolverFailed:
            reason = "undecided"
        if reason is not None:
            findings.append(Finding(reason, state.target))
    return AuditResult(tuple(findings), len(opens), auditor.solves)


def _settle(state: _Open, auditor: _Auditor, add: Callable[[Sequence[int]], None]) -> str | None:
    """Look for a witness that makes the target safe; the reason it is blocked otherwise."""
    k, target = auditor.k, state.target

    def attempt(rows: list[Row]) -> bool:
        point = auditor.find(rows)
        if point is None:
            return False
        add(point)
        state.see(point)  # `add` skips targets already safe; this one is being decided
        return True

    if target.categories:
        if not state.possible and not attempt([Row(terms_of_sum(target.categories), 1, None)]):
            return None  # the group is provably empty
        if state.safe(k):
            return None
        (seen,) = state.possible
        others = terms_of_sum([t for i, t in enumerate(target.categories) if i != seen])
        return None if others and attempt([Row(others, 1, None)]) else "single_category"

    if target.signed:  # a change: zero, or k or more either way
        if (
            attempt([Row(target.terms, 0, 0)])
            or attempt([Row(target.terms, k, None)])
            or attempt([Row(target.terms, None, -k)])
        ):
            return None
        return "derivable_small"
    if attempt([Row(target.terms, None, 0)]):
        return None
    attempt([Row(target.terms, k, None)])
    if max(state.values) < k:
        return "derivable_small"
    if state.safe(k):
        return None
    (value,) = state.values  # a suppressed cell seen only at one value >= k: is it pinned?
    if attempt([Row(target.terms, value + 1, None)]) or attempt(
        [Row(target.terms, None, value - 1)]
    ):
        return None
    return "pinned"
