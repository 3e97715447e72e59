"""The model's value from its first token's probabilities (`--value-scoring probs`): asked for as
OpenAI logprobs from a scripted server on 127.0.0.1, scored as the expected judgement, cached with
the answer, and falling back to the judgement word where the probabilities say nothing. Bad
logprobs from a server are ignored, never a crash."""
from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from mcts_reason.budget import Budget, Meter
from mcts_reason.cli import cli
from mcts_reason.llm import LLMClient, LLMValue, ResponseCache
from mcts_reason.llm.scripted import Reply, ScriptedServer
from mcts_reason.llm.value import expected_score, judgement_mass
from mcts_reason_puzzles.game24 import Game24

G = Game24()
KEY = "sk-test-PLANTED-KEY-probs-31"
SCORES = {"sure": 1.0, "likely": 0.5, "impossible": 0.0}


def _lp(p: float) -> float:
    return math.log(p)


def test_expected_score_weighs_the_judgements_by_probability():
    top = [("sure", _lp(0.6)), (" Impossible", _lp(0.2)), ("lik", _lp(0.1)), ("The", _lp(0.04)),
           ("I", _lp(0.05)), ("", _lp(0.01))]
    mass = judgement_mass(top)
    assert mass == pytest.approx({"sure": 0.6, "impossible": 0.2, "likely": 0.1})
    # renormalised over the judgements: (0.6 * 1 + 0.1 * 0.5 + 0.2 * 0) / 0.9
    assert expected_score(top, SCORES) == pytest.approx(0.65 / 0.9)
    # a lower-case first letter is the start of its judgement (SmolLM2 writes "sure" as "s",
    # "ure"; this pair is what the fine-tuned model gave on a two-number state)
    assert judgement_mass([("imp", -0.42), ("s", -1.11), ("f", -7.57)]) == pytest.approx(
        {"impossible": math.exp(-0.42), "sure": math.exp(-1.11)})
    assert expected_score([("imp", -0.42), ("s", -1.11)], SCORES) == pytest.approx(
        math.exp(-1.11) / (math.exp(-1.11) + math.exp(-0.42)))
    # two alternatives that begin the same word add up
    assert expected_score([("su", _lp(0.3)), ("sure", _lp(0.3)), ("imp", _lp(0.4))],
                          SCORES) == pytest.approx(0.6)
    # under half the mass on judgements: no score (the caller reads the word instead)
    assert expected_score([("The", _lp(0.7)), ("sure", _lp(0.3))], SCORES) is None
    assert expected_score(None, SCORES) is None and expected_score([], SCORES) is None


def _client(srv, **kw):
    return LLMClient(base_url=srv.base_url, model="judge", api_key=KEY, sleep=lambda s: None,
                     **kw)


def test_probs_scoring_asks_for_logprobs_and_scores_each_state(tmp_path):
    table = {"1 1 4 6": [("sure", _lp(0.9)), ("impossible", _lp(0.1))],
             "2 2 2 2": [("impossible", _lp(0.7)), ("likely", _lp(0.2)), ("sure", _lp(0.1))]}

    def script(body, n):
        state = next(s for s in table if s in body["messages"][-1]["content"])
        return Reply(table[state][0][0], top_logprobs=table[state])
    cache = tmp_path / "c.sqlite"
    a, b = G.parse_instance("1 1 4 6"), G.parse_instance("2 2 2 2")
    with ScriptedServer(script) as srv:
        value = LLMValue(_client(srv, cache=ResponseCache(cache)), scoring="probs")
        meter = Meter(Budget())
        value.bind(meter)
        got = value.evaluate(G, [a, b], rng=np.random.default_rng(0))
        assert got == pytest.approx([0.9, 0.1 + 0.2 * 0.5])
        assert all(r["logprobs"] is True and r["top_logprobs"] == 10 for r in srv.requests)
        assert meter.usage.faults == {} and meter.usage.model_calls == 2
        # the word scoring on the same answers: the sampled words, 1.0 and 0.0
        word = LLMValue(_client(srv), scoring="word")
        assert word.evaluate(G, [a, b], rng=np.random.default_rng(0)) == [1.0, 0.0]
        assert all("logprobs" not in r for r in srv.requests[2:])
        sent = srv.count
    # the probabilities come back from the cache with the answer, with no request
    with ScriptedServer(lambda body, n: Reply(status=500)) as srv2:
        value = LLMValue(_client(srv2, cache=ResponseCache(cache)), scoring="probs")
        assert value.evaluate(G, [a, b], rng=np.random.default_rng(0)) == pytest.approx(got)
        assert srv2.count == 0
    assert sent == 4
    with sqlite3.connect(cache) as db:
        bodies = [r[0] for r in db.execute("SELECT body FROM responses")]
    assert all("top_logprobs" in body and KEY not in body for body in bodies)


@pytest.mark.parametrize("bad", [None, "not a list", [], [{"token": 3, "logprob": -0.1}],
                                 [{"token": "sure", "logprob": "high"}],
                                 [{"token": "sure", "logprob": 2.0}],
                                 [{"token": "sure"}], [["sure", -0.1, 9]]])
def test_bad_or_missing_logprobs_fall_back_to_the_word(bad):
    with ScriptedServer(lambda body, n: Reply("thinking...\nlikely", top_logprobs=bad)) as srv:
        value = LLMValue(_client(srv), scoring="probs")
        meter = Meter(Budget())
        value.bind(meter)
        assert value.evaluate(G, [G.parse_instance("1 2 3 4")],
                              rng=np.random.default_rng(0)) == [0.5]
        assert meter.usage.faults == {}


def test_no_judgement_anywhere_is_unjudged_and_the_default():
    top = [("The", _lp(0.9)), ("sure", _lp(0.1))]
    with ScriptedServer(lambda body, n: Reply("The answer", top_logprobs=top)) as srv:
        value = LLMValue(_client(srv), scoring="probs", default=0.25)
        meter = Meter(Budget())
        value.bind(meter)
        assert value.evaluate(G, [G.parse_instance("1 2 3 4")],
                              rng=np.random.default_rng(0)) == [0.25]
        assert meter.usage.faults == {"unjudged": 1}


def test_unknown_scoring_is_refused():
    with pytest.raises(ValueError, match="scoring"):
        LLMValue(LLMClient(base_url="http://127.0.0.1:9/v1", model="m", api_key="k"),
                 scoring="vibes")


def test_solve_with_value_scoring_probs_from_the_cli(tmp_path):
    """End to end through `solve`: an oracle that proposes the solution's steps and judges by
    probabilities; the option reaches the requests."""
    def script(body, n):
        text = body["messages"][-1]["content"]
        if body.get("logprobs"):
            return Reply("sure", top_logprobs=[("sure", _lp(0.8)), ("impossible", _lp(0.2))])
        if "4 9 10 13" in text:
            return Reply("13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6 9)")
        if "4 4 10" in text:
            return Reply("10 - 4 = 6 (left: 4 6)")
        if "4 6" in text:
            return Reply("4 * 6 = 24 (left: 24)")
        return Reply("nothing")
    with ScriptedServer(script) as srv:
        r = CliRunner().invoke(cli, ["solve", "game24", "4 9 10 13", "--policy", "llm",
                                     "--value", "llm", "--base-url", srv.base_url,
                                     "--model", "judge", "--no-cache", "--no-grammar",
                                     "--value-scoring", "probs", "--max-model-calls", "30"],
                               env={"OPENAI_API_KEY": KEY})
        assert r.exit_code == 0, r.output
        assert "step 3: 4 * 6 = 24" in r.output
        assert any(b.get("logprobs") for b in srv.requests)
        assert all(b.get("top_logprobs") == 10 for b in srv.requests if b.get("logprobs"))
    r = CliRunner().invoke(cli, ["solve", "game24", "4 9 10 13", "--value-scoring", "vibes"])
    assert r.exit_code == 2 and "vibes" in r.output


def test_the_scoring_is_part_of_a_runs_settings():
    from mcts_reason.llm.session import LLMSettings, settings_from_dict, settings_to_dict
    assert "value_scoring" not in settings_to_dict(LLMSettings(cache=None))  # old configs equal
    d = settings_to_dict(LLMSettings(cache=None, value_scoring="probs"))
    assert d["value_scoring"] == "probs"
    assert settings_from_dict(d).value_scoring == "probs"
    assert settings_from_dict(settings_to_dict(LLMSettings(cache=None))).value_scoring == "word"
