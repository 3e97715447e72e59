"""A learned policy and value: linear weights over `features.Featurizer` rows, in one .npz file.

The file holds plain numeric arrays and a JSON manifest (stored as UTF-8 bytes), and is read with
`numpy.load(allow_pickle=False)`, so loading a model file can never run code. The manifest names
the puzzle, the feature version and width, a hash of the training data and the fit's metrics;
a file for another puzzle or another feature version is refused with a one-line `ModelError`.

Policy: prior(step) = softmax over the legal steps of w_p . phi(step, next state) + b_p (a proper
distribution; exhaustive, every legal step is listed). Value: sigmoid(w_v . phi(state) + b_v),
in [0, 1].
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..policies import top_k
from ..types import Proposal
from .features import FEATURE_VERSION, Featurizer

FORMAT = "mcts-reason-learned"
FORMAT_VERSION = 1


class ModelError(ValueError):
    """A model file that is missing, unreadable, or made for something else (one-line message)."""


@dataclass
class LinearModel:
    """Policy and value weights of one puzzle. `manifest` is JSON-serialisable metadata."""

    puzzle: str
    bits: int
    policy_w: np.ndarray
    policy_b: float
    value_w: np.ndarray
    value_b: float
    manifest: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        width = 1 << self.bits
        self.policy_w = np.asarray(self.policy_w, dtype=np.float64).ravel()
        self.value_w = np.asarray(self.value_w, dtype=np.float64).ravel()
        if self.policy_w.shape != (2 * width,) or self.value_w.shape != (width,):
            raise ModelError(f"model weights have shapes {self.policy_w.shape}/"
                             f"{self.value_w.shape}, expected ({2 * width},)/({width},)")
        self.featurizer = Featurizer(self.bits)

    # -- scoring --------------------------------------------------------------------------------
    def step_logits(self, puzzle: Any, state: Any, steps: Sequence[Any],
                    nexts: Sequence[Any]) -> np.ndarray:
        if not steps:
            return np.zeros(0)
        return self.featurizer.pairs(puzzle, state, steps, nexts) @ self.policy_w + self.policy_b

    def values(self, puzzle: Any, states: Sequence[Any]) -> np.ndarray:
        if not states:
            return np.zeros(0)
        return self.values_from_rows(self.featurizer.states(puzzle, states))

    def values_from_rows(self, rows: Any) -> np.ndarray:
        z = rows @ self.value_w + self.value_b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to `path` (.npz) atomically: a reader sees the old file or the new."""
        path = Path(path)
        manifest = {**self.manifest, "format": FORMAT, "format_version": FORMAT_VERSION,
                    "puzzle": self.puzzle, "feature_version": FEATURE_VERSION, "bits": self.bits}
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f, policy_w=self.policy_w.astype(np.float32), value_w=self.value_w.astype(np.float32),
                biases=np.array([self.policy_b, self.value_b], dtype=np.float64),
                manifest=np.frombuffer(json.dumps(manifest, sort_keys=True).encode(), np.uint8))
        os.replace(tmp, path)
        self.manifest = manifest
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, puzzle: str | None = None) -> "LinearModel":
        """Read a model; `puzzle` (a name) must match the manifest's. Raises ModelError."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"model file {str(path)!r} does not exist")
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("policy_w", "value_w", "biases", "manifest")}
        except KeyError as e:
            raise ModelError(f"{path}: not an mcts-reason model (no {e.args[0]} array)") from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise ModelError(f"{path}: not a readable model file ({type(e).__name__})") from None
        try:
            manifest = json.loads(arrays["manifest"].tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelError(f"{path}: the model's manifest is not JSON") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ModelError(f"{path}: not an mcts-reason model (format "
                             f"{manifest.get('format') if isinstance(manifest, dict) else None!r})")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{path}: model format version {manifest.get('format_version')!r}, "
                             f"this mcts-reason reads {FORMAT_VERSION}")
        if manifest.get("feature_version") != FEATURE_VERSION:
            raise ModelError(f"{path}: made with feature version {manifest.get('feature_version')!r}"
                             f", this mcts-reason computes version {FEATURE_VERSION}; retrain it")
        if puzzle is not None and manifest.get("puzzle") != puzzle:
            raise ModelError(f"{path}: a model for puzzle {manifest.get('puzzle')!r}, "
                             f"not {puzzle!r}")
        bits = manifest.get("bits")
        if not isinstance(bits, int) or not 8 <= bits <= 22:
            raise ModelError(f"{path}: bad feature width in the manifest ({bits!r})")
        b = arrays["biases"]
        if b.shape != (2,):
            raise ModelError(f"{path}: bad biases array {b.shape}")
        return cls(puzzle=str(manifest["puzzle"]), bits=bits, policy_w=arrays["policy_w"],
                   policy_b=float(b[0]), value_w=arrays["value_w"], value_b=float(b[1]),
                   manifest=manifest)

    def __repr__(self) -> str:
        return f"LinearModel({self.puzzle!r}, bits={self.bits})"


_LOADED: dict[tuple, LinearModel] = {}


def load_cached(path: str | os.PathLike, puzzle: str | None = None) -> LinearModel:
    """`LinearModel.load`, memoised per process by (path, size, mtime): bench workers reuse it."""
    p = Path(path)
    try:
        st = p.stat()
        key = (str(p.resolve()), st.st_size, st.st_mtime_ns, puzzle)
    except OSError:
        return LinearModel.load(p, puzzle=puzzle)   # raises the one-line error
    if key not in _LOADED:
        if len(_LOADED) > 16:
            _LOADED.clear()
        _LOADED[key] = LinearModel.load(p, puzzle=puzzle)
    return _LOADED[key]


class LearnedPolicy:
    """Every legal step, priors = the model's softmax over them (exhaustive)."""

    exhaustive = True

    def __init__(self, model: LinearModel, *, temperature: float = 1.0,
                 source: str = "") -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.model, self.temperature, self.source = model, temperature, source

    def propose(self, puzzle: Any, state: Any, *, k: int | None,
                rng: np.random.Generator) -> list[Proposal]:
        steps = list(puzzle.legal_steps(state))
        if not steps:
            return []
        nexts = [puzzle.apply(state, s) for s in steps]
        priors = softmax(self.model.step_logits(puzzle, state, steps, nexts) / self.temperature)
        out = [Proposal(s, p, n) for s, p, n in zip(steps, priors.tolist(), nexts)]
        return top_k(out, k)

    def __repr__(self) -> str:
        return f"LearnedPolicy({self.source or self.model!r})"


class LearnedValue:
    """sigmoid of a linear score of the state's features: in [0, 1], the same for the same state."""

    deterministic = True

    def __init__(self, model: LinearModel, *, source: str = "") -> None:
        self.model, self.source = model, source

    def evaluate(self, puzzle: Any, states: Sequence[Any], *,
                 rng: np.random.Generator) -> list[float]:
        return self.model.values(puzzle, list(states)).tolist()

    def __repr__(self) -> str:
        return f"LearnedValue({self.source or self.model!r})"


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()
