"""One accounting for every algorithm: `Budget` (caps), `Usage` (counters), `Meter` (both + clock).

Every search checks the meter *before* each charged operation, so a cap is never exceeded: a
search that cannot afford the next policy or value call stops and returns what it has verified.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields

# Budget field -> how to read the matching amount off a Usage.
_SPENT = {
    "simulations": lambda u: u.simulations,
    "expansions": lambda u: u.expansions,
    "nodes": lambda u: u.nodes,
    "policy_calls": lambda u: u.policy_calls,
    "value_calls": lambda u: u.value_calls,
    "calls": lambda u: u.policy_calls + u.value_calls,
    "model_calls": lambda u: u.model_calls,
    "tokens": lambda u: u.prompt_tokens + u.completion_tokens,
    "cost": lambda u: u.cost,
}

# A policy or value call also draws on these shared caps. `calls` (policy + value calls) is known
# before the call, so it is checked with the call's own size; a model call's tokens and cost are
# only known after it returns, so those caps refuse the next call once they are reached.
_ALSO_EXACT = {"policy_calls": ("calls",), "value_calls": ("calls",)}
_ALSO_AFTER = ("model_calls", "tokens", "cost")


@dataclass(frozen=True, slots=True)
class Budget:
    """Hard caps; None means uncapped. `seconds` is wall-clock time for the whole search.

    `calls` caps policy + value calls together: the matched-compute knob for comparing
    algorithms that split their calls differently between the policy and the value function.
    """

    simulations: int | None = None
    expansions: int | None = None
    nodes: int | None = None
    policy_calls: int | None = None
    value_calls: int | None = None
    calls: int | None = None
    model_calls: int | None = None
    tokens: int | None = None
    cost: float | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        for name in _BUDGET_FIELDS:
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise ValueError(f"budget {name} must be a non-negative number, got {v!r}")

    def caps(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in _BUDGET_FIELDS
                if getattr(self, name) is not None}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.caps().items())
        return f"Budget({inner})"


_BUDGET_FIELDS = tuple(f.name for f in fields(Budget))


@dataclass(slots=True)
class Usage:
    """What a search spent and what it saw. The same counters for every algorithm."""

    simulations: int = 0
    expansions: int = 0
    nodes: int = 0              # nodes in the tree, counting MCTS's listed-not-built children
    policy_calls: int = 0
    value_calls: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    value_cache_hits: int = 0
    invalid_proposals: int = 0
    rejected_answers: int = 0
    cached_calls: int = 0       # model calls answered by the response cache (charged, not sent)
    faults: dict[str, int] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        """Policy + value calls: what the `calls` cap counts."""
        return self.policy_calls + self.value_calls

    def to_dict(self) -> dict:
        d = asdict(self)
        d["calls"] = self.calls
        d["seconds"] = round(self.seconds, 6)
        return d

    def __repr__(self) -> str:
        nz = {k: v for k, v in self.to_dict().items() if v}
        return "Usage(" + ", ".join(f"{k}={v}" for k, v in nz.items()) + ")"


class OverBudget(Exception):
    """Raised by a policy or value function that could not afford a single model call.

    `Context.propose`/`Context.evaluate` turn it into their usual "over budget" None, and the
    meter remembers the refused kind so that `Meter.exhausted()` ends the search."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"budget cap on {kind} reached")
        self.kind = kind


class Meter:
    """A budget, the usage against it, and the clock. Shared by search, policy and value.

    `refused` names a cap that refused a charge which the plain counters cannot show (a model
    call whose reserved tokens would not fit): once set, `exhausted()` reports it."""

    __slots__ = ("budget", "usage", "_start", "_clock", "refused", "_counted", "_checks")

    def __init__(self, budget: Budget, *, clock=time.perf_counter) -> None:
        self.budget = budget
        self.usage = Usage()
        self._clock = clock
        self._start = clock()
        self.refused: str | None = None
        # The counted caps, looked up once (a budget is frozen): `exhausted` runs every step.
        self._counted = [(kind, _SPENT[kind], cap) for kind, cap in budget.caps().items()
                         if kind != "seconds"]
        self._checks: dict[str, list] = {}   # kind -> the caps `can` checks for it (`_checks_for`)

    def elapsed(self) -> float:
        return self._clock() - self._start

    def can(self, kind: str, n: float = 1) -> bool:
        """True when spending `n` more of `kind` keeps every relevant cap (and time) intact."""
        budget, usage = self.budget, self.usage
        if budget.seconds is not None and self.elapsed() >= budget.seconds:
            return False
        checks = self._checks.get(kind)
        if checks is None:
            checks = self._checks[kind] = self._checks_for(kind)
        for spent, cap, after in checks:
            if (spent(usage) >= cap) if after else (spent(usage) + n > cap):
                return False
        return True

    def _checks_for(self, kind: str) -> list:
        """The set caps that `can(kind)` checks, as (amount spent, cap, after): `kind`'s own and
        its shared exact caps (spending must keep within them), then for a policy or value call
        the caps known only after a call (`after`: refused once reached). Looked up once per
        kind (a budget is frozen): `can` runs before every charged operation."""
        budget = self.budget
        out = [(_SPENT[k], getattr(budget, k), False) for k in (kind, *_ALSO_EXACT.get(kind, ()))]
        if kind in _ALSO_EXACT:
            out += [(_SPENT[k], getattr(budget, k), True) for k in _ALSO_AFTER]
        return [c for c in out if c[1] is not None]

    def left(self, kind: str) -> float | None:
        """How much of `kind` the budget still allows (None: not capped)."""
        cap = getattr(self.budget, kind)
        return None if cap is None else max(0, cap - _SPENT[kind](self.usage))

    def spend(self, kind: str, n: int = 1) -> None:
        setattr(self.usage, kind, getattr(self.usage, kind) + n)

    def fault(self, kind: str) -> None:
        self.usage.faults[kind] = self.usage.faults.get(kind, 0) + 1

    def exhausted(self) -> str | None:
        """Name of the first cap already reached (no more of it may be spent), else None."""
        if self.budget.seconds is not None and self.elapsed() >= self.budget.seconds:
            return "seconds"
        if self.refused is not None:
            return self.refused
        for kind, spent, cap in self._counted:
            if spent(self.usage) >= cap:
                return kind
        return None

    def finish(self) -> Usage:
        self.usage.seconds = self.elapsed()
        return self.usage

    def __repr__(self) -> str:
        return f"Meter({self.budget!r}, {self.usage!r})"
