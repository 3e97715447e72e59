"""Summaries of sweep records: solve rate with Wilson intervals per algorithm x budget, as a
Markdown table, and a plot of solve rate against the compute actually spent (matplotlib, Agg)."""
from __future__ import annotations

import contextlib
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

Z95 = 1.959963984540054   # the 97.5% quantile of the standard normal

# Compute measures for the x axis: name -> (label, amount read off a record's usage).
MEASURES = {
    "calls": ("policy + value calls", lambda u: u["policy_calls"] + u["value_calls"]),
    "model_calls": ("model calls", lambda u: u["model_calls"]),
    "tokens": ("tokens", lambda u: u["prompt_tokens"] + u["completion_tokens"]),
    "seconds": ("search seconds", lambda u: u["seconds"]),
    "simulations": ("simulations", lambda u: u["simulations"]),
    "expansions": ("expansions", lambda u: u["expansions"]),
    "nodes": ("nodes", lambda u: u["nodes"]),
    "cost": ("cost", lambda u: u["cost"]),
}


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (no continuity correction)."""
    if n <= 0:
        raise ValueError("need n > 0 trials")
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Row:
    """One algorithm at one budget: how many runs, how many solved, and the mean spend."""

    set: str
    algo: str
    budget_kind: str
    budget: float
    n: int
    solved: int
    low: float
    high: float
    mean: dict   # measure -> mean over the runs
    mean_gap: float | None = None   # mean optimality gap of the solved runs that report one

    @property
    def rate(self) -> float:
        return self.solved / self.n

    def __repr__(self) -> str:
        return (f"Row({self.algo} {self.budget_kind}={self.budget}: {self.solved}/{self.n} "
                f"[{self.low:.3f}, {self.high:.3f}])")


def summarize(records: Iterable[dict]) -> list[Row]:
    """Rows per (set, algo, budget kind, budget), sorted by set, algo and budget. Streams:
    only the running sums are kept, so a report of any size fits in memory."""
    acc: dict[tuple, list] = {}
    for r in records:
        key = (r.get("set", ""), r["algo"], r["budget_kind"], r["budget"])
        a = acc.setdefault(key, [0, 0, dict.fromkeys(MEASURES, 0.0), 0.0, 0])
        a[0] += 1
        a[1] += bool(r["solved"])
        gap = (r.get("metrics") or {}).get("gap")
        if r["solved"] and isinstance(gap, (int, float)):
            a[3] += gap
            a[4] += 1
        for m, (_, f) in MEASURES.items():
            a[2][m] += f(r["usage"])
    rows = []
    for (set_, algo, kind, budget), (n, solved, sums, gaps, n_gaps) in sorted(acc.items()):
        lo, hi = wilson(solved, n)
        rows.append(Row(set_, algo, kind, budget, n, solved, lo, hi,
                        {m: v / n for m, v in sums.items()}, gaps / n_gaps if n_gaps else None))
    return rows


def markdown_table(rows: Sequence[Row]) -> str:
    """The solve-rate table; the set column appears only when rows come from several sets."""
    if not rows:
        return "(no records)\n"
    sets = len({r.set for r in rows}) > 1
    llm = any(r.mean["model_calls"] or r.mean["tokens"] for r in rows)
    head = (["set"] if sets else []) + ["algo", f"budget ({rows[0].budget_kind})"
                                        if len({r.budget_kind for r in rows}) == 1 else "budget",
                                        "runs", "solved", "solve rate", "95% CI (Wilson)",
                                        "mean calls"]
    head += ["mean model calls", "mean tokens"] if llm else []
    head += ["mean seconds"]
    gaps = any(r.mean_gap is not None for r in rows)
    head += ["mean gap (solved)"] if gaps else []
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        cells = ([r.set] if sets else []) + [
            r.algo, _num(r.budget), str(r.n), str(r.solved), f"{r.rate:.3f}",
            f"[{r.low:.3f}, {r.high:.3f}]", f"{r.mean['calls']:.1f}"]
        cells += [f"{r.mean['model_calls']:.1f}", f"{r.mean['tokens']:.0f}"] if llm else []
        cells += [f"{r.mean['seconds']:.4f}"]
        if gaps:
            cells += ["-" if r.mean_gap is None else f"{r.mean_gap:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def plot(rows: Sequence[Row], path: str | Path, *, x: str = "calls", title: str | None = None):
    """Solve rate (with its Wilson band) against the mean `x` actually spent, log x axis, one
    line per algorithm (per set and algorithm when several sets). Writes a PNG; returns the
    matplotlib Figure (closed; its artists stay readable, for tests)."""
    if x not in MEASURES:
        raise ValueError(f"unknown measure {x!r}; choose from {', '.join(MEASURES)}")
    import matplotlib
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=120)
    ax = fig.add_subplot()
    sets = len({r.set for r in rows}) > 1
    lines: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        lines[f"{r.set}: {r.algo}" if sets else r.algo].append(r)
    floor = min((r.mean[x] for r in rows if r.mean[x] > 0), default=1.0)
    for i, (label, rs) in enumerate(lines.items()):
        rs = sorted(rs, key=lambda r: (r.mean[x], r.budget))
        xs = [max(r.mean[x], floor) for r in rs]     # log axis: a zero spend is drawn at the floor
        (line,) = ax.plot(xs, [r.rate for r in rs], marker=_MARKERS[i % len(_MARKERS)],
                          label=label)
        ax.fill_between(xs, [r.low for r in rs], [r.high for r in rs], alpha=0.15,
                        color=line.get_color(), linewidth=0)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    spread = max((r.mean[x] for r in rows), default=1.0) / floor
    ax.xaxis.set_minor_formatter(FuncFormatter(         # label every minor tick on short axes
        lambda v, _: f"{v:g}" if spread < 30 or f"{v:g}"[0] in "25" else ""))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"mean {MEASURES[x][0]} per puzzle (log scale)")
    ax.set_ylabel("solve rate (95% Wilson band)")
    if title is None:
        names = sorted({Path(r.set).name for r in rows})
        title = f"{names[0]}: solve rate vs compute spent" if len(names) == 1 else \
            "solve rate vs compute spent"
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    _write_png(fig, Path(path))
    return fig


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def default_plot_path(results: str | Path) -> Path:
    """RESULTS with .png; for a results file that itself ends in .png, NAME.plot.png."""
    p = Path(results)
    q = p.with_suffix(".png")
    return q if q != p else p.with_name(p.stem + ".plot.png")


def plot_target_problem(path: str | Path, inputs: Sequence[str | Path]) -> str | None:
    """Why a plot may not be written to `path` (None when it may): it is one of the results
    files `inputs`, an existing file that is not a PNG (not ours to replace), or its folder does
    not exist. Checked before any work, so a bad --plot costs nothing."""
    p = Path(path)
    for i in inputs:
        if _same_file(p, Path(i)):
            return f"{path} is the results file {i}; choose another --plot"
    if p.exists() or p.is_symlink():
        if not p.is_file():
            return f"{path} is not a regular file"
        try:
            with open(p, "rb") as f:
                head = f.read(len(PNG_MAGIC))
        except OSError as e:
            return f"cannot read {path} ({e.strerror or type(e).__name__})"
        if head and head != PNG_MAGIC:
            return f"{path} exists and is not a PNG (not replaced); choose another --plot"
    if not p.parent.is_dir():
        return f"folder {str(p.parent)!r} does not exist"
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _write_png(fig, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename it over: a full disk leaves the old
    plot (or nothing), never half a PNG."""
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(paths: Sequence[str | Path]) -> Iterator[dict]:
    """The records of one or more results files, one at a time (a half-written last line is
    ignored; a damaged or repeated record is a ValueError naming file and line)."""
    from .records import scan_records
    for p in paths:
        for _, rec in scan_records(p):
            yield rec
