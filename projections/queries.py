"""What a query of a read model answers when the model is not built yet.

A fresh database has no view tables until the projector's first rebuild; a query then raises
`ViewNotBuilt` (not the driver's error), which the API answers as 503 with `Retry-After`,
as for a read model that is behind.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import asyncpg

P = ParamSpec("P")
R = TypeVar("R")


class ViewNotBuilt(Exception):
    """The read model's tables are not there yet."""


def reads_view(query: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """`query`, raising `ViewNotBuilt` when the tables it reads do not exist yet."""

    @functools.wraps(query)
    async def reading(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await query(*args, **kwargs)
        except asyncpg.UndefinedTableError:
            raise ViewNotBuilt() from None

    return reading
