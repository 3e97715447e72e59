"""The llama.cpp build flags and the check of an installed build (mcts_reason/llm/cpu_build.py).

The pure parts are checked against the CPU flag lists of the machines involved (this project's
AMD EPYC sandbox, the Xeon with AMX under KVM from issue 11, an old x86 without AVX2, ARM); the
library probe against small shared libraries compiled here with ggml's function names.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcts_reason.cli import cli
from mcts_reason.llm import cpu_build, local
from mcts_reason.llm.cpu_build import build_problem, cmake_args

ROOT = Path(__file__).resolve().parents[1]
EPYC = frozenset("fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi1 bmi2".split())
XEON_AMX = EPYC | {"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                   "amx_tile", "amx_int8", "amx_bf16"}
OLD_X86 = frozenset("fpu sse sse2 pni ssse3 sse4_1 sse4_2 avx".split())


def options(args: str) -> dict[str, str]:
    return dict(re.findall(r"-DGGML_(\w+)=(ON|OFF)", args))


def test_x86_builds_never_enable_avx512_or_amx_even_where_the_cpu_lists_them():
    for flags in (EPYC, XEON_AMX, None):
        opts = options(cmake_args("x86_64", flags))
        assert opts["NATIVE"] == "OFF"
        assert all(opts[name] == "OFF" for name in ("AVX512", "AMX_TILE", "AMX_INT8", "AMX_BF16"))
        assert all(opts[name] == "ON" for name in ("AVX", "AVX2", "FMA", "F16C"))
    # the AVX2 baseline is the same build on both x86 machines of issue 11
    assert cmake_args("x86_64", EPYC) == cmake_args("x86_64", XEON_AMX)


def test_an_x86_cpu_without_avx2_gets_a_build_it_can_run():
    opts = options(cmake_args("x86_64", OLD_X86))
    assert opts["AVX"] == "ON" and opts["SSE42"] == "ON"
    assert all(opts[name] == "OFF" for name in ("AVX2", "FMA", "F16C", "BMI2", "AVX512"))


def test_other_architectures_keep_llama_cpps_default():
    assert cmake_args("aarch64", frozenset({"fp", "asimd"})) == ""
    assert cmake_args("arm64") == ""


def test_build_problem_refuses_amx_always_and_missing_features_when_known():
    assert "AMX" in build_problem(frozenset({"avx2", "amx_int8"}), XEON_AMX)
    assert "AMX" in build_problem(frozenset({"amx_int8"}), None)
    assert "avx512" in build_problem(frozenset({"avx2", "avx512"}), EPYC)
    assert "avx2" in build_problem(frozenset({"avx", "avx2"}), OLD_X86)
    safe = frozenset({"ssse3", "avx", "avx2", "fma", "f16c", "bmi2"})
    assert build_problem(safe, EPYC) is None and build_problem(safe, XEON_AMX) is None
    assert build_problem(safe, None) is None
    assert build_problem(frozenset({"avx512"}), XEON_AMX) is None   # a native build without AMX


def test_the_pin_and_the_install_commands_agree():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"llama-cpp-python[server]=={cpu_build.LLAMA_CPP_VERSION}"' in pyproject
    assert f"llama-cpp-python=={cpu_build.LLAMA_CPP_VERSION}" in cpu_build.reinstall_command()
    readme = (ROOT / "README.md").read_text()
    block = readme.split("Install and run the tests", 1)[1].split("```bash\n", 1)[1]
    command = block.split("\n", 1)[0]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    steps = [s.replace(".venv/bin/", "") for s in command.split(" && ")]
    assert steps[0] == "python3 -m venv .venv" and steps[-1] == "pytest -q"
    for step in steps[1:-1]:          # every install step of the README is a line of .ci/run
        assert step in ci, step
    local_step = next(s for s in steps if '".[local]"' in s)
    assert local_step.startswith('CMAKE_ARGS="$(python3 mcts_reason/llm/cpu_build.py)" ')
    assert "--no-cache-dir" in local_step and "--no-binary llama-cpp-python" in local_step


def test_the_script_prints_the_flags_with_only_the_standard_library():
    done = subprocess.run([sys.executable, "-I", str(ROOT / "mcts_reason/llm/cpu_build.py")],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == cmake_args()


CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler to build the test libraries")


def compile_library(tmp_path: Path, name: str, source: str) -> Path:
    src, lib = tmp_path / f"{name}.c", tmp_path / f"lib{name}.so"
    src.write_text(source)
    subprocess.run([CC, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, timeout=120)
    return lib


AMX_LIBRARY = ("int ggml_cpu_has_avx2(void) { return 1; }\n"
               "int ggml_cpu_has_avx512(void) { return 0; }\n"
               "int ggml_cpu_has_amx_int8(void) { return 1; }\n")
CRASHING_LIBRARY = ("#include <signal.h>\n"
                    "__attribute__((constructor)) static void boom(void) { raise(SIGILL); }\n"
                    "int ggml_cpu_has_avx2(void) { return 1; }\n")


@needs_cc
def test_the_probe_reads_what_a_library_was_compiled_with(tmp_path):
    lib = compile_library(tmp_path, "ggml-cpu", AMX_LIBRARY)
    assert cpu_build.library_features(lib) == frozenset({"avx2", "amx_int8"})


@needs_cc
def test_a_library_that_kills_its_loader_is_a_reason_not_a_crash(tmp_path):
    lib = compile_library(tmp_path, "ggml-cpu", CRASHING_LIBRARY)
    assert cpu_build.library_features(lib) == "loading libggml-cpu.so killed the process (SIGILL)"


@needs_cc
def test_solve_refuses_an_amx_build_with_the_command_that_fixes_it(tmp_path, monkeypatch):
    lib = compile_library(tmp_path, "ggml-cpu", AMX_LIBRARY)
    monkeypatch.setattr(cpu_build, "cpu_libraries", lambda: [lib])   # where the build lives
    monkeypatch.setattr(local, "missing_reason", lambda: None)
    monkeypatch.delenv(local.TRUST_BUILD_ENV, raising=False)
    cpu_build.installed_build_problem.cache_clear()
    try:
        res = CliRunner().invoke(cli, ["solve", "game24", "1 1 4 6", "--policy", "llm",
                                       "--no-cache"])
    finally:
        cpu_build.installed_build_problem.cache_clear()
    assert res.exit_code == 3, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output
    assert "libggml-cpu.so" in lines[0] and "built with AMX" in lines[0]
    assert f"reinstall it with: {cpu_build.reinstall_command()}" in lines[0]
    assert "--no-cache-dir" in lines[0]
    assert "-DGGML_AMX_INT8=OFF" in lines[0] or not cmake_args()   # x86 only
