"""This engine's MCTS against OpenSpiel's Python `MCTSBot` on the same Game of 24 instances.

Usage: python benchmarks/openspiel_compare.py [--solvable 150] [--unsolvable 50]
       [--budget 3000] [--seed 0] [--c 2.0]
Needs the benchmark-only extra: pip install -e ".[compare]" (open_spiel from PyPI).

Both searches get the same configuration: a uniform prior over every legal step, one uniform
random rollout per leaf as its value (the *same* evaluator code on both sides: this engine's
`RolloutValue(n=1)`, wrapped as an OpenSpiel `Evaluator`), UCT with the same exploration constant,
the same simulation budget, and OpenSpiel's MCTS-Solver backups (`solve=True`). Each instance is
run by both, interleaved, alternating which goes first. Reported: simulations per second (total
simulations / total CPU time, per set), and the time to a verified answer on solvable
instances. OpenSpiel stops when its root is proven (a win found, or every child proven); this
engine stops at its first solved child or when its exhaustive policy proves the root lost.

The adapter presents a Game of 24 state as the few methods `MCTSBot` calls (`clone`,
`is_terminal`, `returns`, `current_player`, `legal_actions`, `apply_action`, chance-node
queries): one player, reward 1 at a solved terminal state and 0 at a dead end. It keeps each
state's legal steps with their next states (`Puzzle.successors`, the one pass this engine's
uniform policy and the shared rollout use as well) in a dict shared by the search (as this
engine's tree keeps its states), so replaying the path from the root each simulation neither
lists the steps again nor applies them. Actions are indices into that list (the order of
`Puzzle.legal_steps(state)`).

`--tictactoe N` also times OpenSpiel's C++ `MCTSBot` on tic-tac-toe for N moves' searches (a
context figure for what compiled MCTS costs, not a like-for-like comparison).
"""
from __future__ import annotations

import argparse
import functools
import platform
import random
import time

import numpy as np

try:
    import pyspiel
    from open_spiel.python.algorithms import mcts as osmcts
except ImportError:   # a benchmark-only dependency
    raise SystemExit('openspiel_compare needs open_spiel: pip install -e ".[compare]"') from None

import mcts_reason
from mcts_reason.budget import Budget
from mcts_reason.policies import UniformPolicy
from mcts_reason.values import RolloutValue
from mcts_reason_puzzles.game24 import Game24, solvable as is_solvable

CLOCK = time.process_time
PUZZLE = Game24()


class _GameType:
    reward_model = pyspiel.GameType.RewardModel.TERMINAL
    dynamics = pyspiel.GameType.Dynamics.SEQUENTIAL


class PuzzleGame:
    """The two things `MCTSBot.__init__` asks of a game."""

    def get_type(self):
        return _GameType()

    def max_utility(self) -> float:
        return 1.0


class PuzzleState:
    """A puzzle state as an OpenSpiel state (player 0 moves until solved or stuck)."""

    __slots__ = ("state", "steps", "path")

    def __init__(self, state, steps: dict, path: tuple = ()) -> None:
        self.state, self.steps, self.path = state, steps, path

    def _legal(self) -> list:
        """[(step, next state), ...] from `Puzzle.successors` (the one pass this engine's
        uniform policy uses too), listed once per state."""
        s = self.state
        out = self.steps.get(s)
        if out is None:
            out = self.steps[s] = PUZZLE.successors(s)
        return out

    def clone(self) -> "PuzzleState":
        return PuzzleState(self.state, self.steps, self.path)

    def is_terminal(self) -> bool:
        return PUZZLE.is_solved(self.state) or PUZZLE.is_dead_end(self.state) or not self._legal()

    def returns(self) -> list[float]:
        return [1.0 if PUZZLE.is_solved(self.state) else 0.0]

    def current_player(self) -> int:
        return pyspiel.PlayerId.TERMINAL if self.is_terminal() else 0

    def is_chance_node(self) -> bool:
        return False

    def legal_actions(self, player: int | None = None) -> list[int]:
        return list(range(len(self._legal())))

    def apply_action(self, action: int) -> None:
        step, nxt = self._legal()[action]
        self.path = self.path + (step,)
        self.state = nxt


class SharedRollout(osmcts.Evaluator):
    """This engine's `RolloutValue(n=1)` as an OpenSpiel evaluator; uniform priors."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.value, self.rng = RolloutValue(n=1), rng
        self.calls = 0    # rollouts run (one per call)

    def evaluate(self, state: PuzzleState):
        self.calls += 1
        return np.array(self.value.evaluate(PUZZLE, [state.state], rng=self.rng))

    def prior(self, state: PuzzleState):
        actions = state.legal_actions()
        return [(a, 1.0 / len(actions)) for a in actions]


def _expanded(root) -> int:
    """Nodes of an OpenSpiel search tree that have children (expansions made)."""
    stack, n = [root], 0
    while stack:
        node = stack.pop()
        if node.children:
            n += 1
            stack.extend(node.children)
    return n


def run_openspiel(inst: str, budget: int, c: float, seed: int
                  ) -> tuple[int, bool, bool, float, int, int]:
    """(simulations, verified answer found, proved unsolvable, CPU seconds, expansions,
    rollouts). MCTSBot always expands a node on its second visit (the root on its first)."""
    t = CLOCK()
    root_state = PuzzleState(PUZZLE.parse_instance(inst), {})
    evaluator = SharedRollout(np.random.default_rng(seed))
    bot = osmcts.MCTSBot(PuzzleGame(), c, budget, evaluator,
                         solve=True, random_state=np.random.RandomState(seed))
    root = bot.mcts_search(root_state)
    # The proven-win path, if any: follow children whose outcome is a win.
    ok, node, state = False, root, root_state.clone()
    while node.outcome is not None and node.outcome[0] == 1.0 and node.children:
        node = next((ch for ch in node.children if ch.outcome is not None and ch.outcome[0] == 1.0),
                    None)
        if node is None:
            break
        state.apply_action(node.action)
    if PUZZLE.is_solved(state.state):
        answer = PUZZLE.answer(root_state.state, list(state.path))
        ok = PUZZLE.verify(inst, answer)
    proved = root.outcome is not None and root.outcome[0] == 0.0
    secs = CLOCK() - t
    return root.explore_count, ok, proved, secs, _expanded(root), evaluator.calls


def run_ours(inst: str, budget: int, c: float, seed: int, *, expand_after: int = 0
             ) -> tuple[int, bool, bool, float, int, int]:
    t = CLOCK()
    r = mcts_reason.solve(PUZZLE, inst, policy=UniformPolicy(), value=RolloutValue(n=1),
                          budget=Budget(simulations=budget), seed=seed, selection="uct", c=c,
                          expand_after=expand_after)
    ok = r.solved and PUZZLE.verify(inst, r.answer)
    return (r.usage.simulations, ok, r.proved_unsolvable, CLOCK() - t, r.usage.expansions,
            r.usage.value_calls)


def tictactoe(moves: int) -> float:
    """Simulations per second of OpenSpiel's C++ MCTSBot on tic-tac-toe (1000 per move)."""
    game = pyspiel.load_game("tic_tac_toe")
    evaluator = pyspiel.RandomRolloutEvaluator(1, 0)
    bot = pyspiel.MCTSBot(game, evaluator, 2.0, 1000, 10**7, True, 0, False)
    sims, t, done = 0, CLOCK(), 0
    while done < moves:
        state = game.new_initial_state()
        while not state.is_terminal() and done < moves:
            state.apply_action(bot.step(state))
            sims += 1000
            done += 1
    return sims / (CLOCK() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--solvable", type=int, default=150, help="solvable instances (random, seeded)")
    ap.add_argument("--unsolvable", type=int, default=50, help="unsolvable instances")
    ap.add_argument("--budget", type=int, default=3000, help="simulations per search")
    ap.add_argument("--c", type=float, default=2.0, help="UCT exploration constant (both)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tictactoe", type=int, default=0, help="moves of C++ MCTSBot to time")
    ap.add_argument("--expand-after", type=int, default=0,
                    help="this engine's expand_after: 0 (its default) expands a leaf on its first "
                         "visit; 1 on its second, as MCTSBot does")
    args = ap.parse_args()
    every = list(PUZZLE.instances())
    pick = random.Random(args.seed)
    sets = {"solvable": pick.sample([i for i in every if is_solvable(PUZZLE.parse_instance(i))],
                                    args.solvable),
            "unsolvable": pick.sample([i for i in every
                                       if not is_solvable(PUZZLE.parse_instance(i))],
                                      args.unsolvable)}
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  python "
          f"{platform.python_version()}  machine {platform.machine()}  open_spiel "
          f"{getattr(pyspiel, '__version__', '?')}  budget {args.budget}  c {args.c}  "
          f"ours: expand_after {args.expand_after}  CPU time")
    for name, insts in sets.items():
        # simulations, verified answers, CPU s, CPU s of the solved ones, proved unsolvable,
        # expansions, rollouts
        tot = {"ours": [0, 0, 0.0, 0.0, 0, 0, 0], "openspiel": [0, 0, 0.0, 0.0, 0, 0, 0]}
        for k, inst in enumerate(insts):
            order = (("ours", functools.partial(run_ours, expand_after=args.expand_after)),
                     ("openspiel", run_openspiel))
            for who, fn in (order if k % 2 == 0 else order[::-1]):
                sims, ok, proved, secs, expansions, rollouts = fn(inst, args.budget, args.c,
                                                                  args.seed)
                t = tot[who]
                t[5] += expansions
                t[6] += rollouts
                t[0] += sims
                t[1] += ok
                t[2] += secs
                t[3] += secs if ok else 0.0
                t[4] += proved
        rate = {who: t[0] / t[2] for who, t in tot.items()}
        for who, t in tot.items():
            extra = (f", verified answers {t[1]}/{len(insts)}, mean CPU time to a verified answer "
                     f"{1e3 * t[3] / max(1, t[1]):.2f} ms" if name == "solvable"
                     else f", answers claimed {t[1]}, proved unsolvable {t[4]}/{len(insts)}")
            print(f"{name:10s} {who:9s}: {t[0]:7d} simulations in {t[2]:.3f} s = "
                  f"{rate[who]:8.0f} sims/s{extra}")
            print(f"{name:10s} {who:9s}: {t[5]:7d} expansions ({t[5] / t[0]:.2f} a simulation), "
                  f"{t[6]:7d} rollouts ({t[6] / t[0]:.2f} a simulation); "
                  f"{1e6 * t[2] / t[0]:.1f} us a simulation")
        print(f"{name:10s} simulations/s ours/openspiel: {rate['ours'] / rate['openspiel']:.2f}x; "
              f"total time openspiel/ours: {tot['openspiel'][2] / tot['ours'][2]:.2f}x")
    if args.tictactoe:
        print(f"context: OpenSpiel C++ MCTSBot, tic-tac-toe, 1000 simulations a move: "
              f"{tictactoe(args.tictactoe):.0f} sims/s")


if __name__ == "__main__":
    main()
