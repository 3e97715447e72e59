"""bench --executor ray against a local Ray instance started here: the same records as inline."""
import json
import logging
import subprocess
import sys

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'mcts-reason[ray]')")

from mcts_reason.records import read_records  # noqa: E402
from mcts_reason_puzzles.game24 import Game24  # noqa: E402


def _stable(path):
    out = {}
    for r in read_records(path).records:
        r = dict(r, usage=dict(r["usage"]))
        for k in ("wall_seconds", "worker_max_rss_mib"):
            r.pop(k)
        r["usage"].pop("seconds")
        out[(r["instance"], r["algo"], r["budget"], r["seed"])] = r
    return out


@pytest.fixture(scope="module")
def cluster():
    """A one-CPU local Ray cluster owned by this test process (shut down, and so stopped, after)."""
    ray.init(num_cpus=1, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_ray_executor_gives_the_inline_records(cluster, tmp_path):
    spec = tmp_path / "set.txt"
    spec.write_text("\n".join(Game24().instance_set("every")[::90]) + "\n")
    common = ["bench", "game24", "--set", str(spec), "--budgets", "2,8", "--seeds", "2",
              "--no-progress"]
    cmd = [sys.executable, "-m", "mcts_reason.cli"]
    inline = subprocess.run(cmd + common + ["--workers", "1", "--out", str(tmp_path / "a.jsonl")],
                            capture_output=True, text=True, timeout=120)
    assert inline.returncode == 0, inline.stderr
    remote = subprocess.run(cmd + common + ["--executor", "ray", "--ray-address", cluster,
                                            "--out", str(tmp_path / "b.jsonl")],
                            capture_output=True, text=True, timeout=240)
    assert remote.returncode == 0, remote.stderr[-3000:]
    a, b = _stable(tmp_path / "a.jsonl"), _stable(tmp_path / "b.jsonl")
    assert len(a) == 21 * 2 * 2 and a == b
    assert json.loads((tmp_path / "b.jsonl").read_text().splitlines()[0])["config"]["budgets"] \
        == [2, 8]


def test_unreachable_cluster_is_one_line_and_exit_3(tmp_path):
    import socket
    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = tmp_path / "s.txt"
    spec.write_text("1 1 4 6\n")
    res = subprocess.run([sys.executable, "-m", "mcts_reason.cli", "bench", "game24", "--set",
                          str(spec), "--executor", "ray", "--ray-address", f"127.0.0.1:{port}",
                          "--out", str(tmp_path / "o.jsonl")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 3
    assert res.stderr.strip() == (f"Error: cannot reach the Ray cluster at 127.0.0.1:{port} "
                                  f"(Connection refused)")
    assert not (tmp_path / "o.jsonl").exists()
