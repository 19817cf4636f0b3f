"""The table a benchmark suite prints.

Results are ``{figure: {"value": float, "unit": str, "raw": float, "ratio": float}}``;
targets are minimum ratios (ours / raw) for the figures that have one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def format_table(results: Mapping[str, Mapping[str, Any]], targets: Mapping[str, float] | None = None) -> str:
    """A fixed-width text table: figure, ours, raw, ratio, target and a pass/MISS marker."""
    targets = targets or {}
    unit = next((str(figure.get("unit", "")) for figure in results.values()), "")
    suffix = f" ({unit})" if unit else ""
    header = ("figure", f"ours{suffix}", f"raw{suffix}", "ratio", "target", "")
    rows = []
    for name, figure in results.items():
        target = targets.get(name)
        ratio = float(figure["ratio"])
        rows.append((
            name,
            f"{float(figure['value']):,.0f}",
            f"{float(figure['raw']):,.0f}",
            f"{ratio:.2f}",
            f">= {target:.2f}" if target is not None else "-",
            ("pass" if ratio >= target else "MISS") if target is not None else "",
        ))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths).rstrip()
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def print_table(results: Mapping[str, Mapping[str, Any]], targets: Mapping[str, float] | None = None) -> None:
    """Print `format_table(results, targets)` to standard output."""
    print(format_table(results, targets))
