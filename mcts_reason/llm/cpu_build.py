"""Which llama.cpp CPU build suits this machine, and whether the installed one does.

llama-cpp-python compiles llama.cpp when it is installed, by default with `-march=native`. On a
CPU that advertises AMX (Intel Sapphire Rapids and later) that puts AMX tile instructions on the
matrix-multiply path, and under some hypervisors they fault although /proc/cpuinfo lists
`amx_tile`: the server answers /v1/models, then dies with SIGSEGV (a general protection fault at
`ldtilecfg`) on its first completion. So the project builds llama.cpp with GGML_NATIVE=OFF and
an explicit instruction-set list that never includes AVX-512 or AMX, and checks the installed
build before it starts the embedded server.

Run as a script (standard library only, so it works before anything is installed), it prints
the CMAKE_ARGS for this machine:

    CMAKE_ARGS="$(python3 mcts_reason/llm/cpu_build.py)" pip install --no-cache-dir ...
"""
from __future__ import annotations

import functools
import importlib.util
import platform
import signal
import subprocess
import sys
from pathlib import Path

# Keep in step with the `local` extra in pyproject.toml (a test checks that they agree).
LLAMA_CPP_VERSION = "0.3.36"

# ggml's x86 build options (ggml/CMakeLists.txt) that we set from the CPU's features, with the
# /proc/cpuinfo flag each needs. AVX-512 and AMX are never switched on (see the module docstring).
X86_OPTIONS = (("SSE42", "sse4_2"), ("AVX", "avx"), ("AVX2", "avx2"), ("FMA", "fma"),
               ("F16C", "f16c"), ("BMI2", "bmi2"))
# (AVX-512's sub-options and AVX-VNNI are off by default and only matter with these on.)
X86_ALWAYS_OFF = ("AVX512", "AMX_TILE", "AMX_INT8", "AMX_BF16")
# What the installed library reports (libggml-cpu's `ggml_cpu_has_<name>()`, compile-time
# constants) -> the /proc/cpuinfo flag the code compiled with it needs.
LIBRARY_FEATURES = {"ssse3": "ssse3", "avx": "avx", "avx2": "avx2", "fma": "fma", "f16c": "f16c",
                    "bmi2": "bmi2", "avx_vnni": "avx_vnni", "avx512": "avx512f",
                    "avx512_vbmi": "avx512vbmi", "avx512_vnni": "avx512_vnni",
                    "avx512_bf16": "avx512_bf16", "amx_int8": "amx_int8"}
X86_MACHINES = ("x86_64", "amd64", "i386", "i686")


def cpu_flags() -> frozenset[str] | None:
    """The CPU feature flags the kernel reports (Linux /proc/cpuinfo), or None where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def cmake_args(machine: str | None = None, flags: frozenset[str] | None = None) -> str:
    """CMAKE_ARGS for building llama.cpp on `machine` (default: this one) with CPU `flags`.

    x86: GGML_NATIVE=OFF, each of SSE4.2/AVX/AVX2/FMA/F16C/BMI2 on where the CPU has it (all of
    them on any CPU since 2013-2015, or when the flags are unknown), AVX-512 and AMX off. Other
    architectures: "" (llama.cpp's default, a native build; AMX and AVX-512 are x86-only)."""
    machine = (machine if machine is not None else platform.machine()).lower()
    if machine not in X86_MACHINES:
        return ""
    if flags is None:
        flags = cpu_flags() if machine == platform.machine().lower() else None
    on = [name for name, flag in X86_OPTIONS if flags is None or flag in flags]
    args = ["-DGGML_NATIVE=OFF"]
    args += [f"-DGGML_{name}={'ON' if name in on else 'OFF'}" for name, _ in X86_OPTIONS]
    args += [f"-DGGML_{name}=OFF" for name in X86_ALWAYS_OFF]
    return " ".join(args)


def reinstall_command() -> str:
    """The one-line command that rebuilds llama-cpp-python with the safe flags for this CPU."""
    args = cmake_args()
    prefix = f'CMAKE_ARGS="{args}" ' if args else ""
    return (f"{prefix}pip install --no-cache-dir --force-reinstall --no-deps "
            f"llama-cpp-python=={LLAMA_CPP_VERSION}")


def cpu_libraries() -> list[Path]:
    """The installed llama-cpp-python's CPU backend libraries (libggml-cpu*.so): one for a plain
    build, several for a runtime-dispatch build (GGML_CPU_ALL_VARIANTS)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    found: dict[str, Path] = {}
    for folder in spec.submodule_search_locations:
        for p in sorted((Path(folder) / "lib").glob("*ggml-cpu*"), key=lambda p: len(p.name)):
            # libggml-cpu.so, .so.0 and .so.0.25.3 are one library (copies, in a wheel)
            name = p.name.split(".so")[0] if ".so" in p.name else p.stem
            if p.suffix in (".so", ".dylib", ".dll") or ".so." in p.name:
                found.setdefault(name, p)
    return sorted(found.values())


# Runs in a child process, so that a library built for more than this CPU can only kill the
# child (SIGILL) and not the caller.
_PROBE = ("import ctypes, sys\n"
          "lib = ctypes.CDLL(sys.argv[1])\n"
          "print(' '.join(n for n in sys.argv[2:] if hasattr(lib, 'ggml_cpu_has_' + n)"
          " and getattr(lib, 'ggml_cpu_has_' + n)()))\n")


def library_features(path: Path, timeout: float = 60.0) -> frozenset[str] | str:
    """The instruction-set features `path` was compiled with (names of LIBRARY_FEATURES), or a
    one-line reason why loading it failed."""
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, str(path), *LIBRARY_FEATURES],
                              capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"could not load {path.name}: {type(e).__name__}"
    if done.returncode < 0:
        return f"loading {path.name} killed the process ({signal_name(-done.returncode)})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"could not load {path.name}: {last}"
    return frozenset(done.stdout.split())


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def build_problem(features: frozenset[str], flags: frozenset[str] | None) -> str | None:
    """Why a library compiled with `features` must not run on a CPU with `flags`, or None.

    AMX is refused whatever the CPU says (the flags advertise it where the tiles fault); any
    other feature only when the CPU is known to lack it (the library would die with SIGILL)."""
    if "amx_int8" in features:
        return "it was built with AMX, whose tile instructions crash under some virtual machines"
    if flags is not None:
        missing = sorted(name for name in features if LIBRARY_FEATURES[name] not in flags)
        if missing:
            return f"it was built for CPU features this CPU lacks ({', '.join(missing)})"
    return None


@functools.lru_cache(maxsize=1)
def installed_build_problem() -> str | None:
    """One line naming what is wrong with the installed llama.cpp build for this CPU, with the
    command that fixes it, or None when it is fine (or there is nothing to check)."""
    flags = cpu_flags() if platform.machine().lower() in X86_MACHINES else None
    for lib in cpu_libraries():
        features = library_features(lib)
        problem = features if isinstance(features, str) else build_problem(features, flags)
        if problem:
            return (f"the installed llama.cpp ({lib.name}) cannot be used here: {problem}; "
                    f"reinstall it with: {reinstall_command()}")
    return None


if __name__ == "__main__":
    print(cmake_args())
