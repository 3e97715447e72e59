"""Wilson intervals against published values and an independent derivation; the table; the PNG."""
import json
import math
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli
from mcts_reason.report import markdown_table, plot, summarize, wilson

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat. Med. 17,
# Table I, method 3 (Wilson score interval without continuity correction), 4 decimals.
NEWCOMBE = [((81, 263), (0.2553, 0.3662)), ((15, 148), (0.0624, 0.1605)),
            ((0, 20), (0.0, 0.1611)), ((1, 29), (0.0061, 0.1718))]


@pytest.mark.parametrize("kn,expected", NEWCOMBE)
def test_wilson_matches_newcombe_table(kn, expected):
    lo, hi = wilson(*kn)
    assert round(lo, 4) == expected[0] and round(hi, 4) == expected[1]


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (3, 7), (50, 100), (99, 100), (1362, 1362),
                                 (7, 4086)])
def test_wilson_is_the_root_pair_of_the_score_equation(k, n):
    # Independent derivation: the interval is {p : |k/n - p| <= z sqrt(p(1-p)/n)}, whose ends
    # are the roots of (1 + z^2/n) p^2 - (2 k/n + z^2/n) p + (k/n)^2 = 0.
    z, ph = 1.959963984540054, k / n
    roots = sorted(np.roots([1 + z * z / n, -(2 * ph + z * z / n), ph * ph]).real)
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(max(0.0, roots[0]), abs=1e-9)
    assert hi == pytest.approx(min(1.0, roots[1]), abs=1e-9)


def test_wilson_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats", reason="scipy not installed (optional check)")
    for k, n in [(0, 10), (3, 10), (81, 263), (100, 100)]:
        ci = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_rejects_nonsense():
    with pytest.raises(ValueError):
        wilson(1, 0)
    with pytest.raises(ValueError):
        wilson(5, 4)


def _usage(policy, value, seconds=0.01):
    return {"simulations": policy, "expansions": policy, "nodes": 3 * policy,
            "policy_calls": policy, "value_calls": value, "model_calls": 0, "prompt_tokens": 0,
            "completion_tokens": 0, "cost": 0.0, "seconds": seconds, "value_cache_hits": 0,
            "invalid_proposals": 0, "rejected_answers": 0, "faults": {}}


def _records():
    out = []
    # algo A: budget 4 solves 1 of 4 with 6 calls each; budget 16 solves 3 of 4 with 20 calls each
    # algo B: budget 4 solves 0 of 4 with 2 calls; budget 16 solves 2 of 4 with 10 calls
    spec = {("A", 4): (1, 3, 3), ("A", 16): (3, 12, 8), ("B", 4): (0, 1, 1), ("B", 16): (2, 5, 5)}
    for (algo, budget), (solved, p, v) in spec.items():
        for i in range(4):
            out.append({"set": "s", "instance": f"i{i}", "algo": algo, "budget": budget,
                        "budget_kind": "simulations", "seed": 0, "solved": i < solved,
                        "usage": _usage(p, v)})
    return out


def test_summary_and_table():
    rows = summarize(_records())
    assert [(r.algo, r.budget, r.n, r.solved) for r in rows] == [
        ("A", 4, 4, 1), ("A", 16, 4, 3), ("B", 4, 4, 0), ("B", 16, 4, 2)]
    assert rows[1].mean["calls"] == 20 and rows[3].mean["calls"] == 10
    table = markdown_table(rows)
    lines = table.splitlines()
    assert lines[0].startswith("| algo | budget (simulations) | runs | solved | solve rate")
    lo, hi = wilson(3, 4)
    assert f"| A | 16 | 4 | 3 | 0.750 | [{lo:.3f}, {hi:.3f}] | 20.0 |" in table
    assert len(lines) == 2 + 4


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_is_a_real_png_with_one_line_per_algorithm(tmp_path):
    rows = summarize(_records())
    path = tmp_path / "curve.png"
    fig = plot(rows, path)
    data = path.read_bytes()
    assert _png_size(data) == (960, 540)
    import matplotlib.image
    pixels = matplotlib.image.imread(str(path))
    assert pixels.shape[:2] == (540, 960)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10  # not blank
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"A", "B"}
    assert list(lines["A"].get_xdata()) == [6, 20] and list(lines["A"].get_ydata()) == [0.25, 0.75]
    assert list(lines["B"].get_xdata()) == [2, 10] and list(lines["B"].get_ydata()) == [0.0, 0.5]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B"]


def test_report_command(tmp_path):
    res = tmp_path / "r.jsonl"
    res.write_text("".join(json.dumps(r) + "\n" for r in _records()) + '{"instance": "half')
    out = CliRunner().invoke(cli, ["report", str(res)])
    assert out.exit_code == 0, out.output
    assert "| B | 16 | 4 | 2 | 0.500 |" in out.output
    assert _png_size((tmp_path / "r.png").read_bytes())
    dup = tmp_path / "dup.jsonl"
    dup.write_text("".join(json.dumps(r) + "\n" for r in _records()[:2] + _records()[:1]))
    bad = CliRunner().invoke(cli, ["report", "--no-plot", str(dup)])
    assert bad.exit_code == 2 and f"{dup}:3: record" in bad.output and "repeats line 1" in bad.output
    assert math.isfinite(wilson(0, 1)[1])
