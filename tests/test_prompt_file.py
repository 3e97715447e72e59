"""`--prompts FILE`: a user's own prompt templates, checked before any model is asked, and the
project's own prompts (its words, the puzzles' step formats)."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest
from click.testing import CliRunner
from game24_oracle import solvable
from mcts_reason.llm.scripted import Reply, ScriptedServer

from mcts_reason.cli import cli
from mcts_reason.llm.prompt_file import PromptFile, load_prompts
from mcts_reason.llm.prompts import propose_messages, value_messages, verify_messages
from mcts_reason.llm.session import LLMSettings, settings_from_dict, settings_to_dict
from mcts_reason.registry import load
from mcts_reason_puzzles import game24_prompts
from mcts_reason_puzzles.game24 import Game24

G = Game24()


def _file(tmp_path, obj, name="p.json") -> str:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("content, words", [
    ("{not json", "not a JSON file"),
    ([1, 2], "expected a JSON object"),
    ({}, "expected a JSON object"),
    ({"proposal": "{state}"}, "unknown prompt name 'proposal'"),
    ({"propose": 3}, "'propose' must be a non-empty string"),
    ({"value": "   "}, "'value' must be a non-empty string"),
    ({"propose": "numbers {state"}, "'propose': expected '}'"),
    ({"propose": "{state.__class__}"}, "not a plain {name}"),
    ({"propose": "{state!r}"}, "not a plain {name}"),
    ({"propose": "{0}"}, "not a plain {name}"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, words):
    with pytest.raises(ValueError) as e:
        load_prompts(_file(tmp_path, content))
    assert words in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("templates, words", [
    ({"propose": "Input: {input}\n"}, "unknown placeholder {input}"),
    ({"value": "{numbers} {target}"}, "unknown placeholder {target}"),
    ({"propose": "List some steps."}, "no placeholder for the state"),
    ({"value": "Judge: {description}"}, "no placeholder for the state"),
    ({"verify": "Is it right? {state}"}, "no placeholder for the step it judges"),
    ({"verify": "{latest} {numbers}"}, "unknown placeholder {numbers}"),
])
def test_placeholders_are_checked_against_the_puzzle(tmp_path, templates, words):
    prompts = load_prompts(_file(tmp_path, templates))
    with pytest.raises(ValueError, match=words.replace("{", r"\{").replace("}", r"\}")):
        prompts.check(G)


def test_each_puzzle_offers_its_own_fields(tmp_path):
    prompts = load_prompts(_file(tmp_path, {"propose": "{numbers} -> {target}",
                                            "value": "{state}"}))
    prompts.check(load("countdown"))
    with pytest.raises(ValueError, match=r"\{target\}"):
        prompts.check(G)
    load_prompts(_file(tmp_path, {"propose": "{state} goal: {goal}"})).check(load("blocksworld"))


def test_templates_fill_the_messages(tmp_path):
    prompts = load_prompts(_file(tmp_path, {
        "propose": "Numbers {numbers}; {{braces}} stay\nPossible next steps:\n",
        "value": "{description} | {state}",
        "verify": "{start} / {steps}/ {latest} / {state}"}))
    prompts.check(G)
    s = G.parse_instance("4 9 10 13")
    assert propose_messages(G, s, prompts) == [
        {"role": "user", "content": "Numbers 4 9 10 13; {braces} stay\nPossible next steps:\n"}]
    assert value_messages(G, s, prompts)[0]["content"] == f"{G.description} | 4 9 10 13"
    step = G.parse_step(s, "13 - 9 = 4 (left: 4 4 10)")
    after = G.apply(s, step)
    assert verify_messages(G, s, ["13 - 9 = 4 (left: 4 4 10)"], after, prompts)[0]["content"] \
        == "4 9 10 13 / (none)\n/ 13 - 9 = 4 (left: 4 4 10) / 4 4 10"
    only_value = load_prompts(_file(tmp_path, {"value": "{state}"}, "v.json"))
    assert propose_messages(G, s, only_value) == G.propose_messages(s)   # the rest: the puzzle's


def test_settings_carry_the_prompts_to_bench_workers(tmp_path):
    prompts = load_prompts(_file(tmp_path, {"value": "{state}?"}))
    s = LLMSettings(cache=None, prompts=prompts)
    assert settings_from_dict(json.loads(json.dumps(settings_to_dict(s)))).prompts == prompts
    assert "prompts" not in settings_to_dict(LLMSettings(cache=None))   # old configs unchanged
    assert PromptFile.from_dict(prompts.to_dict()) == prompts


def test_cli_rejects_a_bad_prompt_file_before_any_model(tmp_path):
    bad = _file(tmp_path, {"propose": "Input: {input}"})
    for args in (["solve", "game24", "4 9 10 13"], ["bench", "game24", "--set", "hard100",
                                                  "--out", str(tmp_path / "o.jsonl")]):
        res = CliRunner().invoke(cli, [*args, "--policy", "llm", "--prompts", bad,
                                       "--base-url", "http://127.0.0.1:9/v1", "--model", "m"])
        assert res.exit_code == 2, res.output
        errors = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
        assert len(errors) == 1 and "unknown placeholder {input}" in errors[0]
        assert "Traceback" not in res.output and not (tmp_path / "o.jsonl").exists()
    res = CliRunner().invoke(cli, ["solve", "game24", "4 9 10 13", "--policy", "llm",
                                   "--prompts", str(tmp_path / "missing.json")])
    assert res.exit_code == 2 and "cannot read it" in res.output


def test_solve_sends_the_files_prompts(tmp_path):
    path = _file(tmp_path, {"propose": "Mine: {numbers}\nPossible next steps:\n",
                            "value": "Judge {state} (sure/likely/impossible)"})
    with ScriptedServer(lambda body, n: Reply("4 * 6 = 24 (left: 1 1 24)\nsure")) as srv:
        res = CliRunner().invoke(cli, ["solve", "game24", "1 1 4 6", "--policy", "llm",
                                       "--value", "llm", "--prompts", path, "--no-cache",
                                       "--base-url", srv.base_url, "--model", "m",
                                       "--max-model-calls", "6", "--json"],
                                 env={"OPENAI_API_KEY": "k"})
        sent = [b["messages"] for b in srv.requests]
    assert res.exit_code in (0, 1), res.output
    assert sent and all(len(m) == 1 and m[0]["role"] == "user" for m in sent)
    assert sent[0][0]["content"] == "Mine: 1 1 4 6\nPossible next steps:\n"
    assert any(m[0]["content"].startswith("Judge ") for m in sent)


# -- the project's own prompts ----------------------------------------------------------------
def test_game24_prompt_examples_are_legal_steps_and_true_judgements():
    """The one-shot example's steps parse as legal steps of its numbers, and every judged
    example agrees with a brute-force solver (sure: solvable; impossible: not)."""
    lines = game24_prompts.PROPOSE.splitlines()
    start = lines.index("Input: 3 5 7 12")
    s = G.parse_instance("3 5 7 12")
    examples = lines[start + 2:lines.index("Input: {numbers}")]
    assert len(examples) >= 4 and all(G.parse_step(s, ln) is not None for ln in examples)
    body = game24_prompts.VALUE.splitlines()[1:-1]       # the examples, without the last line
    nums_lines = [ln for ln in body if all(t.isdigit() for t in ln.split())]
    words = [ln for ln in body if ln in ("sure", "likely", "impossible")]
    assert len(nums_lines) == len(words) >= 3
    for nums, word in zip(nums_lines, words):
        ok = solvable(tuple(sorted(Fraction(t) for t in nums.split())))
        assert word != "sure" or ok, nums
        assert word != "impossible" or not ok, nums


def test_game24_prompts_fill_in_the_state():
    s = G.parse_instance("4 9 10 13")
    [p] = G.propose_messages(s)
    [v] = G.value_messages(s)
    assert p["content"].endswith("Input: 4 9 10 13\nPossible next steps:\n")
    assert v["content"].strip().splitlines()[-1] == "4 9 10 13"
    assert "sure/likely/impossible" in v["content"]
