"""Training records from a search tree (a `viz.export.tree_graph`, live or read back from a file).

The tree file holds text only (rendered states and steps), so every state is rebuilt here from the
instance by re-parsing each edge's step with the puzzle's `parse_step` and applying it; a step
that does not re-parse, or that leads to a state rendered differently from the file, is an error
(`TraceError`): the records are the puzzle's steps, never unchecked text. Four kinds of record,
each with a `provenance` object (see docs/learning.md for the formats):

- `policy`: per expanded state, each child's step, visits, visit share `pi` (AlphaZero's target),
  proof status, and `target`: the share the next policy is fitted to (all mass on proved wins
  where there are some, else the visit share with proved losses removed);
- `value`: per visited or proved state, the outcome: 1/0 where the search proved a win/loss,
  else the share of `k` random rollouts from it that solved (Math-Shepherd's automatic label).
  With a discount `gamma` (graded targets): gamma ** d where the tree holds a solved state d
  steps below (`steps`: d), 0 where it proved a loss, else the rollouts' discounted return (a
  rollout solving after t steps counts gamma ** t), so values fall with the distance to a
  solution instead of being 1 on the found path and about 0 next to it;
- `sft`: chat records `{"messages": [...]}`: the propose prompt of a state on the verified
  solution path answered with up to `sft_steps` legal steps, one per line (the solution's step
  first, then the state's other children not proved lost, by win, visits, prior; then, to fill
  the k lines, its proved-lost children and the puzzle's other legal steps: `propose_answer`),
  and value prompts answered with the proved label (sure / impossible), with the state's
  `depth` in its tree (fine-tuning balances the labels within a depth: `--value-balance`);
- `preference`: `{"prompt", "chosen", "rejected"}`: at a state on the solution path, the
  solution's step against a proved-lost sibling.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import networkx as nx
import numpy as np

from ..llm.prompts import propose_messages, value_messages
from .choices import SFT_STEPS
from .features import Featurizer, has_hook
from ..values import RolloutValue

KINDS = ("policy", "value", "sft", "preference")


class TraceError(ValueError):
    """A tree that cannot be turned into records (one-line message)."""


def states_of(graph: nx.DiGraph, puzzle: Any) -> dict[int, Any]:
    """node id -> puzzle state, rebuilt from the instance by re-parsing every edge's step."""
    instance = graph.graph.get("instance")
    if not isinstance(instance, str):
        raise TraceError("the tree names no instance")
    try:
        root_state = puzzle.parse_instance(instance)
    except ValueError as e:
        raise TraceError(f"the tree's instance {instance!r} does not parse: {e}") from None
    roots = [n for n in graph.nodes if graph.in_degree(n) == 0]
    if len(roots) != 1:
        raise TraceError(f"the tree has {len(roots)} roots, expected 1")
    states = {roots[0]: root_state}
    for parent, child in nx.bfs_edges(graph, roots[0]):
        before = states[parent]
        text = graph.nodes[child].get("step", "")
        step = puzzle.parse_step(before, text)
        if step is None:
            raise TraceError(f"node {child}: step {text!r} does not re-parse from "
                             f"{puzzle.render(before)!r}")
        after = puzzle.apply(before, step)
        if puzzle.render(after) != graph.nodes[child].get("state"):
            raise TraceError(f"node {child}: step {text!r} leads to {puzzle.render(after)!r}, "
                             f"the tree says {graph.nodes[child].get('state')!r}")
        states[child] = after
    return states


def provenance(graph: nx.DiGraph, **extra: Any) -> dict:
    """Who made this tree: puzzle, instance, algorithm, budget, seed, version, policy, value."""
    from .. import __version__
    g = graph.graph
    out = {"puzzle": g.get("puzzle"), "instance": g.get("instance"), "algo": g.get("algo"),
           "budget": g.get("budget"), "seed": g.get("seed"), "policy": g.get("policy"),
           "value": g.get("value"), "version": g.get("version") or __version__}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def solution_nodes(graph: nx.DiGraph, puzzle: Any, states: dict[int, Any]) -> list[int]:
    """The verified solution path (root to solved node), or [] if the tree has none that
    verifies: the path marked `solution` is re-checked with `is_solved` and `verify`."""
    path = sorted((n for n, a in graph.nodes(data=True) if a.get("solution")),
                  key=lambda n: graph.nodes[n]["depth"])
    if not path or not puzzle.is_solved(states[path[-1]]):
        return []
    steps = [puzzle.parse_step(states[a], graph.nodes[b]["step"]) for a, b in zip(path, path[1:])]
    answer = puzzle.answer(states[path[0]], steps)
    return path if puzzle.verify(graph.graph["instance"], answer) else []


def _kids(graph: nx.DiGraph, n: int) -> list[int]:
    return sorted(graph.successors(n), key=lambda c: graph.nodes[c]["order"])


def steps_to_solved(graph: nx.DiGraph, puzzle: Any, states: dict[int, Any]) -> dict[int, int]:
    """node -> the fewest steps from it to a solved state in its subtree (nodes with none are
    left out)."""
    out: dict[int, int] = {}
    for n in sorted(graph.nodes, key=lambda n: -graph.nodes[n]["depth"]):
        if puzzle.is_solved(states[n]):
            out[n] = 0
        else:
            below = [out[c] for c in graph.successors(n) if c in out]
            if below:
                out[n] = 1 + min(below)
    return out


def records(graph: nx.DiGraph, puzzle: Any, *, rollouts: int = 8, rng: np.random.Generator,
            sft_steps: int = SFT_STEPS, max_pairs: int = 4, gamma: float | None = None,
            **extra: Any) -> Iterator[dict]:
    """Every record of one tree (see the module docstring); `extra` goes into provenance.
    `rollouts` is k of the Monte Carlo value labels (0: only proved states get value records);
    `gamma` in (0, 1]: graded value labels (None: outcome labels); `sft_steps` >= 1: lines per
    propose SFT answer."""
    if sft_steps < 1:
        raise TraceError(f"sft_steps (lines per propose answer) must be >= 1, got {sft_steps}")
    if gamma is not None and not 0 < gamma <= 1:
        raise TraceError(f"the value discount gamma must be in (0, 1], got {gamma}")
    states = states_of(graph, puzzle)
    prov = provenance(graph, **extra)
    nodes = graph.nodes
    on_path = solution_nodes(graph, puzzle, states)
    path_set = set(on_path)
    rollout = RolloutValue(n=rollouts, gamma=gamma or 1.0) if rollouts > 0 else None
    dist = steps_to_solved(graph, puzzle, states) if gamma is not None else {}
    tokens = ((lambda n: list(Featurizer.hook_tokens(puzzle, states[n])))
              if has_hook(puzzle) else None)
    for n in sorted(graph.nodes, key=lambda n: nodes[n]["order"]):
        a = nodes[n]
        kids = _kids(graph, n)
        if kids:
            rec = _policy_record(graph, n, kids, prov)
            if rec is not None and tokens:
                rec["tokens"] = tokens(n)
                for ch, c in zip(rec["children"], kids):
                    ch["tokens"] = tokens(c)
            if rec is not None:
                yield rec
        status = a["status"]
        if n in dist:
            rec = {"kind": "value", "state": a["state"], "value": gamma ** dist[n],
                   "source": "proved", "k": 0, "steps": dist[n], "provenance": prov}
        elif gamma is not None and status == "loss":
            rec = {"kind": "value", "state": a["state"], "value": 0.0, "source": "proved",
                   "k": 0, "provenance": prov}
        elif gamma is None and (status in ("win", "loss") or n in path_set):
            label = 1.0 if status == "win" or n in path_set else 0.0
            rec = {"kind": "value", "state": a["state"], "value": label, "source": "proved",
                   "k": 0, "provenance": prov}
        elif a["visits"] > 0 and rollout is not None:
            v = rollout.evaluate(puzzle, [states[n]], rng=rng)[0]
            rec = {"kind": "value", "state": a["state"], "value": v, "source": "rollouts",
                   "k": rollouts, "provenance": prov}
        else:
            continue
        if tokens:
            rec["tokens"] = tokens(n)
        yield rec
    yield from _chat_records(graph, puzzle, states, on_path, prov, sft_steps=sft_steps,
                             max_pairs=max_pairs)


def _policy_record(graph: nx.DiGraph, n: int, kids: list[int], prov: dict) -> dict | None:
    nodes = graph.nodes
    visits = [int(nodes[c]["visits"]) for c in kids]
    status = [nodes[c]["status"] for c in kids]
    total = sum(visits)
    pi = [v / total for v in visits] if total else None
    won = [s == "win" for s in status]
    if any(won):
        target = [1.0 / sum(won) if w else 0.0 for w in won]
    else:
        kept = [v if s != "loss" else 0 for v, s in zip(visits, status)]
        if not sum(kept):
            return None        # nothing learned here: no visits beyond proved losses
        target = [v / sum(kept) for v in kept]
    return {"kind": "policy", "state": nodes[n]["state"], "visits": int(nodes[n]["visits"]),
            "children": [{"step": nodes[c]["step"], "next": nodes[c]["state"], "visits": v,
                          "pi": None if pi is None else p, "status": s, "target": t}
                         for c, v, p, s, t in zip(kids, visits, pi or [None] * len(kids),
                                                  status, target)],
            "provenance": prov}


def propose_answer(graph: nx.DiGraph, n: int, nxt: int, k: int, puzzle: Any,
                   state: Any) -> list[str]:
    """The propose SFT answer at node `n` of the solution path (`nxt`: its next node there): up
    to `k` distinct step texts, one per line -- the solution's step first, then n's other
    children that are not proved lost, ordered by proved win, then visits, then prior (highest
    first), then creation order; then, while fewer than `k`, its proved-lost children (by prior,
    then order) and the `puzzle`'s other legal steps from n's `state`, in the puzzle's order.
    Every line is a legal step (the puzzle's expansion made it or `legal_steps` lists it).
    Filling to k matters where the search proved most steps lost (near the end of a
    puzzle): a model trained on one-line answers there writes one line, and when that line is
    wrong the search has nothing to try."""
    nodes = graph.nodes
    kids = [c for c in _kids(graph, n) if c != nxt]

    def prior(c: int) -> float:
        return float(nodes[c].get("prior") or 0.0)

    live = sorted((c for c in kids if nodes[c]["status"] != "loss"),
                  key=lambda c: (nodes[c]["status"] != "win", -nodes[c]["visits"], -prior(c),
                                 nodes[c]["order"]))
    lost = sorted((c for c in kids if nodes[c]["status"] == "loss"),
                  key=lambda c: (-prior(c), nodes[c]["order"]))
    best = [nodes[nxt]["step"]]

    def fill(texts: Iterable[str]) -> None:
        for text in texts:
            if len(best) >= k:
                return
            if text not in best:
                best.append(text)

    fill(nodes[c]["step"] for c in live + lost)
    if len(best) < k:
        fill(puzzle.render_step(state, s) for s in puzzle.legal_steps(state))
    return best


def _chat_records(graph: nx.DiGraph, puzzle: Any, states: dict, on_path: list[int], prov: dict,
                  *, sft_steps: int, max_pairs: int) -> Iterator[dict]:
    nodes = graph.nodes
    for n, nxt in zip(on_path, on_path[1:]):
        state = states[n]
        prompt = propose_messages(puzzle, state)
        best = propose_answer(graph, n, nxt, sft_steps, puzzle, state)
        yield {"kind": "sft", "task": "propose", "state": nodes[n]["state"],
               "messages": prompt + [{"role": "assistant", "content": "\n".join(best)}],
               "provenance": prov}
        lost = [c for c in _kids(graph, n) if nodes[c]["status"] == "loss"][:max_pairs]
        for c in lost:
            yield {"kind": "preference", "state": nodes[n]["state"], "prompt": prompt,
                   "chosen": [{"role": "assistant", "content": nodes[nxt]["step"]}],
                   "rejected": [{"role": "assistant", "content": nodes[c]["step"]}],
                   "provenance": prov}
    seen = set()
    for n in sorted(graph.nodes, key=lambda n: nodes[n]["order"]):
        st = nodes[n]["status"]
        label = "sure" if (st == "win" or n in on_path) else "impossible" if st == "loss" else None
        if label is None or nodes[n]["state"] in seen or puzzle.is_solved(states[n]):
            continue
        if st == "loss" and not (nodes[n]["visits"] or graph.in_degree(n) == 0
                                 or any(p in on_path for p in graph.predecessors(n))):
            continue       # keep the labels near where the search looked
        seen.add(nodes[n]["state"])
        yield {"kind": "sft", "task": "value", "state": nodes[n]["state"],
               "depth": int(nodes[n]["depth"]),
               "messages": value_messages(puzzle, states[n])
               + [{"role": "assistant", "content": label}], "provenance": prov}
