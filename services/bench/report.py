"""The table a benchmark suite prints.

Results are ``{figure: {"value": float, "unit": str, "raw": float, "ratio": float}}``;
targets are minimum ratios (ours / raw) for the figures that have one. Figures that also
carry latency percentiles (``"p50_ms"``, ``"p99_ms"``, as `haven bench http` does) get
p50 and p99 columns, and, given `latency_limit_ms`, a p99 target with its own pass/MISS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def format_table(
    results: Mapping[str, Mapping[str, Any]],
    targets: Mapping[str, float] | None = None,
    *,
    latency_limit_ms: float | None = None,
) -> str:
    """A fixed-width text table: figure, ours, raw, ratio, target and a pass/MISS marker; then
    p50, p99, the p99 target and its marker when any figure has latencies."""
    targets = targets or {}
    unit = next((str(figure.get("unit", "")) for figure in results.values()), "")
    suffix = f" ({unit})" if unit else ""
    latencies = any("p99_ms" in figure for figure in results.values())
    header: tuple[str, ...] = ("figure", f"ours{suffix}", f"raw{suffix}", "ratio", "target", "")
    if latencies:
        header += ("p50 ms", "p99 ms", "p99 target", "")
    digits = 2 if unit == "ms" else 0  # latencies below a millisecond still show
    rows = []
    for name, figure in results.items():
        target = targets.get(name)
        ratio = float(figure["ratio"])
        row: tuple[str, ...] = (
            name,
            f"{float(figure['value']):,.{digits}f}",
            f"{float(figure['raw']):,.{digits}f}",
            f"{ratio:.2f}",
            f">= {target:.2f}" if target is not None else "-",
            ("pass" if ratio >= target else "MISS") if target is not None else "",
        )
        if latencies:
            p50, p99 = figure.get("p50_ms"), figure.get("p99_ms")
            limited = latency_limit_ms is not None and p99 is not None
            row += (
                f"{float(p50):.1f}" if p50 is not None else "-",
                f"{float(p99):.1f}" if p99 is not None else "-",
                f"< {latency_limit_ms:g} ms" if limited else "-",
                ("pass" if float(p99) < latency_limit_ms else "MISS") if limited else "",  # type: ignore[operator]
            )
        rows.append(row)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3, 6, 7}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths).rstrip()
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def print_table(
    results: Mapping[str, Mapping[str, Any]],
    targets: Mapping[str, float] | None = None,
    *,
    latency_limit_ms: float | None = None,
) -> None:
    """Print `format_table(results, targets, latency_limit_ms=...)` to standard output."""
    print(format_table(results, targets, latency_limit_ms=latency_limit_ms))
