"""Real small filesystems for the reliability tests: a tmpfs of a few KiB (disk full) or a
read-only tmpfs, mounted in a private mount namespace (`unshare`), so nothing on the machine
is touched and no root is needed where user namespaces are allowed.

`mounted(kind)` says why it cannot be had here (None when it can); `run_in_mount` runs a shell
script with $MNT the mount point and $PY the test's Python, and returns the CompletedProcess.
Where namespaces are refused, `limited_file_size` is the fallback for "disk full": RLIMIT_FSIZE
makes a write past the limit fail with EFBIG, a real OSError from the kernel.
"""
from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile


def _script(opts: str) -> str:
    return f'mount -t tmpfs -o {opts} tmpfs "$MNT" && cd "$MNT" && exec sh -c "$0"'


@functools.lru_cache(maxsize=None)
def mount_problem() -> str | None:
    """Why a private tmpfs cannot be mounted here, or None."""
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    d = tempfile.mkdtemp(prefix="mnt-probe-")
    try:
        res = subprocess.run(["unshare", "-rm", "sh", "-c", _script("size=16k"), "true"],
                             env={**os.environ, "MNT": d}, capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare failed: {e}"
    finally:
        os.rmdir(d)
    return None if res.returncode == 0 else f"cannot mount a private tmpfs: {res.stderr.strip()}"


def run_in_mount(script: str, mnt: str, *, size: str = "64k", read_only: bool = False,
                 env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    opts = f"size={size}" + (",ro" if read_only else "")
    full_env = {**os.environ, **(env or {}), "MNT": mnt, "PY": sys.executable}
    return subprocess.run(["unshare", "-rm", "sh", "-c", _script(opts), script], env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def limited_file_size(limit: int):
    """A preexec_fn: files may grow to `limit` bytes; past it a write fails with EFBIG."""
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply
