"""Features computed from a puzzle's own text, so any puzzle that implements the rules gets a
learned policy and value without a hand-written heuristic.

A state is described by the hashed character n-grams (1-4) and word 1-2-grams of `render(state)`,
plus the whole rendered text as one token (exact states recur across instances: a memorised
state generalises to every instance that reaches it), each token hashed with CRC-32 (stable across
processes and platforms, unlike Python's `hash`) into 2 ** bits columns. A (state, step) pair is described by two
blocks side by side: the step's text (`render_step`) and the state the step leads to. A puzzle may
add tokens of its own through an optional hook, `types.LearnTokens.learn_tokens(state)` (hashed
into the state block, e.g. the sorted numbers left; normalised apart from the n-grams, so a few
hook tokens weigh as much as the dozens of n-grams of the text). With a hook, the step block also
holds what the step changed (`delta_tokens`: a `key=number` token that went up or down, by how
much; any other token that appeared or went away), so a linear policy can prefer "the step that
placed one more block" without knowing the state it started from. Hashing (the feature-hashing trick of
Weinberger et al. 2009: no vocabulary) means a saved model is only a weight vector plus
`FEATURE_VERSION` and the width.

Everything here is numpy + scipy.sparse; no scikit-learn object is stored with a model.
"""
from __future__ import annotations

import zlib
from collections import Counter
from fractions import Fraction
from itertools import repeat
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.sparse as sp

FEATURE_VERSION = 3         # 2: the hook's tokens are L2-normalised on their own;
#                             3: the step block holds the step's delta tokens
DEFAULT_BITS = 15            # 32768 columns per block


def _hash_tokens(tokens: Iterable[str], bits: int) -> dict[int, float]:
    mask = (1 << bits) - 1
    out: dict[int, float] = {}
    for t in tokens:
        j = zlib.crc32(t.encode("utf-8")) & mask
        out[j] = out.get(j, 0.0) + 1.0
    return out


_CHAR_SEED = zlib.crc32(b"c:")      # crc32(b"c:" + gram) == crc32(gram, _CHAR_SEED)


def _hash_text(text: str, bits: int) -> dict[int, float]:
    """`_hash_tokens(text_tokens(text), bits)`, faster: for ASCII text the char n-grams are
    byte slices hashed by C loops (map, Counter) with CRC-32's running start value standing in
    for the "c:" prefix. The same columns, counts and insertion order (tests/test_learn_graded.py
    checks it against the token list)."""
    padded = f" {text} "
    if not padded.isascii():
        return _hash_tokens(text_tokens(text), bits)
    mask = (1 << bits) - 1
    raw = padded.encode()
    grams = [raw[i:i + n] for n in (1, 2, 3, 4) for i in range(len(raw) - n + 1)]
    out = Counter(map(mask.__and__, map(zlib.crc32, grams, repeat(_CHAR_SEED))))
    words = text.split()
    rest = [f"w:{w}" for w in words] + [f"w:{a} {b}" for a, b in zip(words, words[1:])]
    out.update(map(mask.__and__, map(zlib.crc32, [t.encode() for t in rest + [f"t:{text}"]])))
    return out


def has_hook(puzzle: Any) -> bool:
    """Whether the puzzle offers `types.LearnTokens` (a plain attribute check: the Protocol's
    isinstance costs more than the features of a small state)."""
    return callable(getattr(puzzle, "learn_tokens", None))


def _unit(counts: dict[int, float]) -> dict[int, float]:
    norm = float(np.sqrt(sum(v * v for v in counts.values()))) or 1.0
    return {j: v / norm for j, v in counts.items()}


def _number(text: str) -> Fraction | int | None:
    if text.isdigit():             # the common case, without Fraction's parser
        return int(text)
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def delta_tokens(before: Sequence[str] | None, after: Sequence[str]) -> list[str]:
    """What a step changed in the hook's tokens, from the tokens `before` and `after` it:
    `KEY+` / `KEY-` and `KEY+D` (D the change, clamped to +-4) for a `KEY=NUMBER` token whose
    number changed (numbers as Fraction: "2/3" is one); `KEY~same` for a `KEY=TEXT` token (text
    not a number) there before and after with the same text (e.g. the sliding puzzle's
    `last=t4`: the step moved the tile the previous step moved, an undo); `+TOKEN` / `-TOKEN`
    for any other token that appeared or went away (a number whose key is on one side only:
    nothing). `before=None` (unknown): none."""
    if before is None:
        return []

    def split(tokens):
        nums, rest, named = {}, set(), {}
        for t in tokens:
            key, eq, val = t.partition("=")
            x = _number(val) if eq else None
            if x is None:
                rest.add(t)
                if eq:
                    named[key] = val
            else:
                nums[key] = x
        return nums, rest, named

    (nb, rb, tb), (na, ra, ta) = split(before), split(after)
    out = [f"{key}~same" for key in sorted(tb.keys() & ta.keys()) if tb[key] == ta[key]]
    for key in sorted(nb.keys() & na.keys()):
        d = na[key] - nb[key]
        if d:
            c = max(-4, min(4, int(d) if d.denominator == 1 else (1 if d > 0 else -1)))
            out += [f"{key}{'+' if d > 0 else '-'}", f"{key}{c:+d}"]
    out += [f"+{t}" for t in sorted(ra - rb)] + [f"-{t}" for t in sorted(rb - ra)]
    return out


def text_tokens(text: str) -> list[str]:
    """The tokens of one text: char 1-4-grams (padded with spaces), word 1-2-grams, the whole."""
    padded = f" {text} "
    chars = [f"c:{padded[i:i + n]}" for n in (1, 2, 3, 4) for i in range(len(padded) - n + 1)]
    words = text.split()
    grams = [f"w:{w}" for w in words] + [f"w:{a} {b}" for a, b in zip(words, words[1:])]
    return chars + grams + [f"t:{text}"]


class Featurizer:
    """Sparse feature rows for states and (state, step) pairs of one puzzle.

    `bits` sets the width of a block (2 ** bits columns); rows are L2-normalised per block.
    """

    def __init__(self, bits: int = DEFAULT_BITS) -> None:
        if not 8 <= bits <= 22:
            raise ValueError(f"feature bits must be in 8..22, got {bits}")
        self.bits = bits
        self.width = 1 << bits
        self._cache: dict[str, dict[int, float]] = {}

    def _block(self, text: str, extra: Iterable[str] = (), prefix: str = "h:") -> dict[int, float]:
        """The n-grams of `text`, plus the `extra` tokens (with `prefix`) normalised apart."""
        extra = tuple(extra)
        key = text if not extra else text + "\0" + prefix + "\0".join(extra)
        hit = self._cache.get(key)
        if hit is None:
            hit = _unit(_hash_text(text, self.bits))
            for j, v in _unit(_hash_tokens([prefix + t for t in extra], self.bits)).items():
                hit[j] = hit.get(j, 0.0) + v
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    @staticmethod
    def hook_tokens(puzzle: Any, state: Any) -> tuple[str, ...]:
        """The puzzle's `types.LearnTokens` hook, if it has one."""
        if has_hook(puzzle):
            return tuple(str(t) for t in puzzle.learn_tokens(state))
        return ()

    def state_text_rows(self, texts: Sequence[str],
                        extras: Sequence[Sequence[str]] | None = None) -> sp.csr_matrix:
        """Rows for rendered states (width 2 ** bits)."""
        extras = extras or [()] * len(texts)
        return self._rows([[(0, self._block(t, e))] for t, e in zip(texts, extras)], 1)

    def pair_text_rows(self, steps: Sequence[str], nexts: Sequence[str],
                       extras: Sequence[Sequence[str]] | None = None,
                       deltas: Sequence[Sequence[str]] | None = None) -> sp.csr_matrix:
        """Rows for (step text + delta tokens, next-state text + hook tokens) pairs (width
        2 * 2 ** bits)."""
        extras = extras or [()] * len(steps)
        deltas = deltas or [()] * len(steps)
        return self._rows([[(0, self._block(s, d, "d:")), (1, self._block(n, e))]
                           for s, n, e, d in zip(steps, nexts, extras, deltas)], 2)

    def states(self, puzzle: Any, states: Sequence[Any]) -> sp.csr_matrix:
        return self.state_text_rows([puzzle.render(s) for s in states],
                                    [self.hook_tokens(puzzle, s) for s in states])

    def pairs(self, puzzle: Any, state: Any, steps: Sequence[Any],
              nexts: Sequence[Any]) -> sp.csr_matrix:
        hooks = [self.hook_tokens(puzzle, n) for n in nexts]
        before = self.hook_tokens(puzzle, state) if has_hook(puzzle) else None
        return self.pair_text_rows([puzzle.render_step(state, s) for s in steps],
                                   [puzzle.render(n) for n in nexts], hooks,
                                   [delta_tokens(before, h) for h in hooks])

    def _rows(self, rows: list[list[tuple[int, dict[int, float]]]], blocks: int) -> sp.csr_matrix:
        indptr, indices, data = [0], [], []
        for row in rows:
            for b, block in row:
                off = b * self.width
                indices.extend(off + j for j in block)
                data.extend(block.values())
            indptr.append(len(indices))
        return sp.csr_matrix((np.asarray(data, dtype=np.float64),
                              np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
                             shape=(len(rows), blocks * self.width))

    def __repr__(self) -> str:
        return f"Featurizer(bits={self.bits}, version={FEATURE_VERSION})"
