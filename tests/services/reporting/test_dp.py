"""The differential-privacy mode (services/reporting/dp*.py): noise, bound, ledger, cache.

Attacks of REFERENCE §3 covered here, each with a control: *wrong noise scale* (a chi-square
goodness-of-fit test against the discrete Laplace pmf that accepts the real mechanism and
rejects 1.3x and 1/1.3x its scale), *re-running to average away noise* (the cache returns the
same numbers; a re-sampling mechanism lets the mean converge to the truth), unbounded
contributions (the bound keeps a client's influence within the sensitivity the scale assumes),
and pseudonyms in the output.

**Flake rate and power of the noise test.** OpenDP draws noise from a CSPRNG that cannot be
seeded, so the test is made reliable by its size instead: N = 20,000 draws, bins with at
least 20 expected draws each plus two pooled tails, rejection at p < 1e-9. A correct mechanism
is therefore rejected with probability 1e-9 per run. Against 1.3x (and 1/1.3x) the scale, the
statistic is non-central chi-square with non-centrality > 1,000 at these parameters; the
probability of *not* rejecting is computed exactly (`test_the_noise_test_has_power_...`)
and is below 1e-12 — the wrong scale tests below fail to reject with at most that
probability.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from decimal import Decimal

import asyncpg
import pytest
from scipy import stats

from services.reporting.dp import BudgetExhausted, release_noisy
from services.reporting.dp_contributions import (
    DPError,
    DPTable,
    InvalidContribution,
    bound_contributions,
    codebook_cells,
    dims,
)
from services.reporting.dp_noise import Mechanism, discrete_laplace_pmf
from services.settings import login_as
from tests.services.reporting.conftest import PERMISSIVE, disclosure_policy

N_DRAWS = 20_000
ALPHA = 1e-9
MIN_EXPECTED = 20

CODEBOOK = codebook_cells(
    {"age_group": ["adult", "minor", "not_tracked"], "trafficking_type": ["labor", "sex", "both"]}
)
SERVICE_CODEBOOK = codebook_cells({"service": ["legal", "housing", "medical"]})
CERTIFICATE_FIELDS = {
    "release_key",
    "mechanism",
    "library",
    "privacy_unit",
    "epsilon_per_client",
    "per_client_budget",
    "on_exhausted",
    "l1_sensitivity",
    "max_contribution",
    "scale",
    "post_processing",
}


# -- the noise distribution test ----------------------------------------------------------------


def bins(scale: float) -> tuple[int, list[float]]:
    """Central bins -K..K (each with >= MIN_EXPECTED expected draws) and the two tails."""
    k = 0
    while N_DRAWS * discrete_laplace_pmf(k + 1, scale) >= MIN_EXPECTED:
        k += 1
    central = [discrete_laplace_pmf(i, scale) for i in range(-k, k + 1)]
    tail = (1.0 - sum(central)) / 2
    return k, [tail, *central, tail]


def chi_square_p_value(draws: list[int], scale: float) -> float:
    """Goodness of fit of integer noise draws to the discrete Laplace pmf at `scale`."""
    k, expected_p = bins(scale)
    observed = [0] * len(expected_p)
    for x in draws:
        observed[0 if x < -k else len(expected_p) - 1 if x > k else x + k + 1] += 1
    statistic = sum(
        (o - len(draws) * p) ** 2 / (len(draws) * p)
        for o, p in zip(observed, expected_p, strict=True)
    )
    return float(stats.chi2.sf(statistic, len(expected_p) - 1))


def noise(mechanism: Mechanism) -> list[int]:
    """N_DRAWS independent noise values, through the production path (true counts all 0)."""
    draws = mechanism([0] * N_DRAWS)
    assert len(draws) == N_DRAWS and all(type(x) is int for x in draws)
    return draws


@pytest.mark.parametrize(("epsilon", "sensitivity"), [(Decimal("1"), 2), (Decimal("0.5"), 3)])
def test_noise_follows_the_discrete_laplace_at_sensitivity_over_epsilon(
    epsilon: Decimal, sensitivity: int
) -> None:
    mechanism = Mechanism.for_budget(epsilon, sensitivity)
    expected = sensitivity / float(epsilon)
    assert expected <= mechanism.scale <= expected * (1 + 1e-12)
    assert mechanism.epsilon(sensitivity) <= float(epsilon)  # OpenDP's own privacy map
    assert chi_square_p_value(noise(mechanism), expected) > ALPHA


@pytest.mark.parametrize("factor", [1.3, 1 / 1.3])
def test_wrong_noise_scale_is_rejected_by_the_same_test(factor: float) -> None:
    """The control of the distribution test: a mechanism at factor x the scale fails it."""
    scale = Mechanism.for_budget(Decimal("1"), 2).scale
    assert chi_square_p_value(noise(Mechanism(scale * factor)), scale) < ALPHA


def test_a_scale_that_ignores_the_contribution_bound_is_rejected() -> None:
    """The bug the test exists for: scale 1/epsilon although each client touches 2 cells."""
    assert (
        chi_square_p_value(noise(Mechanism(1.0)), Mechanism.for_budget(Decimal("1"), 2).scale)
        < ALPHA
    )


@pytest.mark.parametrize("scale", [2.0, 6.0])
@pytest.mark.parametrize("factor", [1.3, 1 / 1.3])
def test_the_noise_test_has_power_against_30_percent_off(scale: float, factor: float) -> None:
    """Exact power: P(no rejection | true scale = factor x scale) from the
    non-central chi-square."""
    _, p0 = bins(scale)
    k, _ = bins(scale)
    central = [discrete_laplace_pmf(i, scale * factor) for i in range(-k, k + 1)]
    p1 = [(1.0 - sum(central)) / 2, *central, (1.0 - sum(central)) / 2]
    noncentrality = N_DRAWS * sum((b - a) ** 2 / a for a, b in zip(p0, p1, strict=True))
    critical = stats.chi2.isf(ALPHA, len(p0) - 1)
    miss = stats.ncx2.cdf(critical, len(p0) - 1, noncentrality)
    assert noncentrality > 1000 and miss < 1e-12


def test_noise_is_integer_and_counts_must_be() -> None:
    mechanism = Mechanism.for_budget(Decimal("1"), 1)
    assert all(type(x) is int for x in mechanism([3, 0, 1_000_000]))
    with pytest.raises(DPError):
        mechanism([1.5])  # type: ignore[list-item]
    with pytest.raises(DPError):
        mechanism([-1])


# -- bounded contributions ----------------------------------------------------------------------


def subjects(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def cell(age: str, kind: str) -> dict[str, str]:
    return {"age_group": age, "trafficking_type": kind}


def service_rows(
    people: list[uuid.UUID], per_person: int
) -> list[tuple[uuid.UUID, dict[str, str]]]:
    kinds = ["legal", "housing", "medical"]
    return [(p, {"service": kinds[i % 3]}) for p in people for i in range(per_person)]


def test_rows_beyond_the_bound_are_dropped_before_counting() -> None:
    people = subjects(4)
    table = bound_contributions("services", SERVICE_CODEBOOK, 2, service_rows(people, 5))
    assert sum(table.cells().values()) == 4 * 2
    assert all(len(rows) == 2 for rows in table.contributions.values())
    again = bound_contributions("services", SERVICE_CODEBOOK, 2, reversed(service_rows(people, 5)))
    assert again.cells() == table.cells()  # deterministic: the input order does not matter
    swapped = bound_contributions(
        "t", CODEBOOK, 1, [(people[0], {"trafficking_type": "sex", "age_group": "minor"})]
    )
    assert (
        swapped.cells()[dims(cell("minor", "sex"))] == 1
    )  # a row's dimension order does not matter
    with pytest.raises(InvalidContribution):
        DPTable("services", SERVICE_CODEBOOK, 2, {people[0]: SERVICE_CODEBOOK * 1})  # 3 > 2


def worst_case_privacy_loss(before: dict, after: dict, scale: float) -> float:
    """max over outputs y of |log P(y | before) - log P(y | after)| for discrete Laplace noise."""
    return sum(abs(before[c] - after[c]) for c in before) / scale


def test_the_bound_keeps_one_client_within_the_sensitivity_and_unbounded_counting_does_not() -> (
    None
):
    epsilon, bound = Decimal("1"), 2
    scale = Mechanism.for_budget(epsilon, bound).scale
    others = service_rows(subjects(10), 2)
    heavy = service_rows(subjects(1), 9)  # one client with nine service instances
    bounded = worst_case_privacy_loss(
        bound_contributions("s", SERVICE_CODEBOOK, bound, others).cells(),
        bound_contributions("s", SERVICE_CODEBOOK, bound, others + heavy).cells(),
        scale,
    )
    assert bounded <= float(epsilon)
    # Control: counting every row lets that one client move the table by 9, a loss of 4.5 epsilon.
    unbounded = bound_contributions("s", SERVICE_CODEBOOK, 100, others + heavy).cells()
    baseline = bound_contributions("s", SERVICE_CODEBOOK, 100, others).cells()
    assert worst_case_privacy_loss(baseline, unbounded, scale) > 4 * float(epsilon)


def test_a_cell_outside_the_codebook_is_refused_and_not_named() -> None:
    with pytest.raises(InvalidContribution) as refused:
        bound_contributions("t", CODEBOOK, 1, [(uuid.uuid4(), cell("adult", "sex-and-SECRET"))])
    assert "SECRET" not in str(refused.value)


# -- the ledger and the cache (PostgreSQL) ------------------------------------------------------


@pytest.fixture
async def conn(pool: asyncpg.Pool):
    """An empty ledger under a policy loose enough that each test's own budget governs."""
    async with pool.acquire() as connection, disclosure_policy(pool, **PERMISSIVE):
        await connection.execute(
            "TRUNCATE dp.spends, dp.balances, dp.requester_spends, dp.releases"
        )
        yield connection


async def ledger(conn: asyncpg.Connection) -> tuple[list, list, int]:
    spends = await conn.fetch(
        "SELECT subject, release_id, epsilon FROM dp.spends ORDER BY subject, release_id"
    )
    balances = await conn.fetch("SELECT subject, spent FROM dp.balances ORDER BY subject")
    return (
        [tuple(r) for r in spends],
        [tuple(r) for r in balances],
        await conn.fetchval("SELECT count(*) FROM dp.releases"),
    )


def population(people: list[uuid.UUID]) -> list[DPTable]:
    kinds, ages = ["labor", "sex", "both"], ["adult", "minor", "not_tracked"]
    served = bound_contributions(
        "served", CODEBOOK, 1, [(p, cell(ages[i % 3], kinds[i % 2])) for i, p in enumerate(people)]
    )
    services = bound_contributions("services", SERVICE_CODEBOOK, 2, service_rows(people, 3))
    return [served, services]


async def release(
    conn, tables, *, period="2026Q1", epsilon="1", budget="3", on_exhausted="refuse", key="tims"
):
    return await release_noisy(
        conn,
        release_key=key,
        period=period,
        codebook_version="2026.1",
        tables=tables,
        epsilon_per_release=epsilon,
        per_client_budget=budget,
        on_exhausted=on_exhausted,
    )


async def test_a_release_charges_every_counted_client_once(conn) -> None:
    people = subjects(30)
    result = await release(conn, population(people), epsilon="0.5")
    spends, balances, releases = await ledger(conn)
    assert releases == 1 and len(spends) == 30
    assert sorted(s for s, _ in balances) == sorted(people) and {b for _, b in balances} == {
        Decimal("0.5")
    }
    document = result.to_json()
    assert set(document) == {"period", "codebook_version", "tables", "certificate"}
    assert [t["name"] for t in document["tables"]] == ["served", "services"]
    assert [c["dims"] for c in document["tables"][0]["cells"]] == [
        dict(c) for c in CODEBOOK
    ]  # codebook order
    assert all(
        type(c["count"]) is int and c["count"] >= 0 for t in document["tables"] for c in t["cells"]
    )
    certificate = document["certificate"]
    assert set(certificate) == CERTIFICATE_FIELDS
    assert certificate["l1_sensitivity"] == 3 and certificate["epsilon_per_client"] == "0.5"
    assert 6.0 <= certificate["scale"] <= 6.0 * (1 + 1e-12)
    assert not result.cached


async def test_rerunning_a_release_returns_identical_numbers_and_spends_nothing(conn) -> None:
    tables = population(subjects(30))
    first = await release(conn, tables)
    before = await ledger(conn)
    for _ in range(3):
        again = await release(conn, population_copy(tables))
        assert again.cached and again.to_json() == first.to_json()
        assert json.dumps(again.to_json()) == json.dumps(first.to_json())
    assert await ledger(conn) == before


def population_copy(tables: list[DPTable]) -> list[DPTable]:
    """The same data built again from rows (a re-run of the job), in another row order."""
    return [
        bound_contributions(
            t.name,
            t.codebook,
            t.max_contribution,
            reversed([(s, c) for s, rows in t.contributions.items() for c in rows]),
        )
        for t in tables
    ]


async def test_averaging_attack_repeated_requests_get_no_fresh_noise(conn) -> None:
    people = subjects(40)
    tables = population(people)
    truth = [count for t in tables for count in t.cells().values()]
    answers = [await release(conn, tables, epsilon="1", budget="1") for _ in range(25)]
    assert (
        len({json.dumps(a.to_json()) for a in answers}) == 1
    )  # the mean of 25 answers is the first answer
    spends, _, releases = await ledger(conn)
    assert releases == 1 and len(spends) == 40

    # Control: a mechanism that re-samples on every request at the same scale (4,000 requests,
    # drawn in one call). The mean is within 0.5 of every true count — the standard error is
    # 0.067 at scale 3, so a miss is a 7.5-sigma event (< 1e-12 over all cells) — and rounding
    # recovers the exact counts, small cells included.
    naive, requests = Mechanism.for_budget(Decimal("1"), 3), 4000
    answers = naive(truth * requests)
    means = [sum(answers[i :: len(truth)]) / requests for i in range(len(truth))]
    assert [round(m) for m in means] == truth


async def test_changed_data_is_a_new_release_that_spends_again(conn) -> None:
    people = subjects(20)
    first = await release(conn, population(people))
    late = subjects(1)
    revised = await release(conn, population(people + late))  # a late entry for the quarter
    assert not revised.cached
    spends, balances, releases = await ledger(conn)
    assert releases == 2
    assert dict(balances)[people[0]] == Decimal("2") and dict(balances)[late[0]] == Decimal("1")
    back = await release(conn, population(people))  # the late entry erased again: the first release
    assert back.cached and back.to_json() == first.to_json()
    assert await ledger(conn) == (spends, balances, releases)


async def test_budget_exhaustion_refuses_and_changes_nothing(conn) -> None:
    people = subjects(12)
    await release(conn, population(people), period="2026Q1", budget="2")
    await release(conn, population(people[:6]), period="2026Q2", budget="2")
    before = await ledger(conn)
    with pytest.raises(BudgetExhausted) as refused:
        await release(
            conn, population(people), period="2026Q3", budget="2"
        )  # people[:6] would reach 3
    assert await ledger(conn) == before
    assert not any(str(p) in str(refused.value) or p.hex in str(refused.value) for p in people)
    assert not re.search(r"\d", str(refused.value).replace("2026", ""))  # no count in the message
    # Clients with budget left can still be released on their own.
    await release(conn, population(people[6:]), period="2026Q3", budget="2")
    assert max(b for _, b in (await ledger(conn))[1]) == Decimal("2")


async def test_exclusion_policy_drops_exhausted_clients_from_the_counts(conn) -> None:
    # epsilon 1000: scale 0.003, so P(any noise != 0) < 1e-100 and the output is the truth.
    people = subjects(9)
    await release(
        conn,
        population(people[:4]),
        period="2026Q1",
        epsilon="1000",
        budget="1000",
        on_exhausted="exclude",
    )
    result = await release(
        conn,
        population(people),
        period="2026Q2",
        epsilon="1000",
        budget="1000",
        on_exhausted="exclude",
    )
    served = result.to_json()["tables"][0]["cells"]
    assert sum(c["count"] for c in served) == 5  # the four exhausted clients are not counted
    assert sorted(population(people[4:])[0].cells().values()) == sorted(c["count"] for c in served)
    _, balances, _ = await ledger(conn)
    assert dict(balances) == {p: Decimal("1000") for p in people}  # never above the budget
    assert (
        set(result.to_json()["certificate"]) == CERTIFICATE_FIELDS
    )  # no count of excluded clients


async def test_concurrent_runs_of_one_release_draw_once_and_charge_once(
    pool: asyncpg.Pool, conn
) -> None:
    tables = population(subjects(15))

    async def run():
        async with pool.acquire() as other:
            return await release(other, tables)

    results = await asyncio.gather(*(run() for _ in range(4)))
    assert len({json.dumps(r.to_json()) for r in results}) == 1
    spends, _, releases = await ledger(conn)
    assert releases == 1 and len(spends) == 15


async def test_no_subject_leaves_in_the_output(conn) -> None:
    people = subjects(25)
    result = await release(conn, population(people))
    stored = await conn.fetchval("SELECT output::text FROM dp.releases")
    texts = [json.dumps(result.to_json()), repr(result), stored]
    for text in texts:
        for p in people:
            assert str(p) not in text and p.hex not in text.lower() and p.hex.upper() not in text
        assert not re.search(
            r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", text, re.I
        )
        assert not re.search(r"[0-9a-f]{32,}", text, re.I)  # no hash or digest either
    # Control: the scan does find a subject where there is one.
    planted = json.dumps({**result.to_json(), "x": str(people[0])})
    assert str(people[0]) in planted and re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", planted)


async def test_the_reporting_role_can_release_but_not_refund_a_budget(
    database_url: str, conn
) -> None:
    reporter = await asyncpg.connect(login_as(database_url, "haven_reporting"))
    try:
        people = subjects(5)
        first = await release(reporter, population(people))
        assert (await release(reporter, population(people))).to_json() == first.to_json()
        for statement in (
            "DELETE FROM dp.spends",
            "DELETE FROM dp.balances",
            "UPDATE dp.releases SET output = '{}'",
            "UPDATE dp.balances SET spent = 0",
            "INSERT INTO dp.spends VALUES (gen_random_uuid(), 1, 1)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reporter.execute(statement)
    finally:
        await reporter.close()
    spends, _, releases = await ledger(conn)
    assert releases == 1 and len(spends) == 5
