"""Fit a `LinearModel` to policy and value records (scikit-learn, CPU, seconds to minutes).

Policy: for each child of each recorded state, the regression target is the centred log of its
smoothed target share, log(t + eps) - mean over siblings; ridge regression fits the step
features to it, so the softmax of the fitted scores reproduces the (smoothed) visit distribution
where the fit is exact. Each state's children share a total weight of 1. Value: logistic
regression on the state features with soft labels (each state twice: label 1 with weight v,
label 0 with weight 1 - v), so proved outcomes and rollout estimates are both fitted as
probabilities.

`policy_states="solved"` fits the policy only to states with a child the search proved won (the
states on a path to a solved state it found; their target is all on the winning steps). At a
small budget the visit shares elsewhere are close to uniform and mostly noise (measured on the
8-puzzle: benchmarks/README.md, learning section).
"""
from __future__ import annotations

import hashlib
import json
from typing import Sequence

import numpy as np

from .choices import POLICY_STATES
from .features import DEFAULT_BITS, FEATURE_VERSION, Featurizer, delta_tokens
from .model import LinearModel, softmax

EPS = 0.02


class EmptyTraces(ValueError):
    """No records to fit (one-line message)."""


def data_hash(records: Sequence[dict]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r, sort_keys=True).encode() + b"\n")
    return h.hexdigest()


def _policy_design(feat: Featurizer, records: Sequence[dict]):
    steps, nexts, extras, deltas, ys, ws, groups = [], [], [], [], [], [], []
    for g, rec in enumerate(records):
        kids = rec["children"]
        before = rec.get("tokens")     # the state's hook tokens (None: no hook, or old records)
        t = np.array([c["target"] for c in kids], dtype=float)
        logs = np.log(t + EPS)
        logs -= logs.mean()
        for c, y in zip(kids, logs):
            steps.append(c["step"])
            nexts.append(c["next"])
            extras.append(c.get("tokens") or ())
            deltas.append(delta_tokens(before, c.get("tokens") or ()))
            ys.append(y)
            ws.append(1.0 / len(kids))
            groups.append(g)
    return (feat.pair_text_rows(steps, nexts, extras, deltas), np.array(ys), np.array(ws),
            np.array(groups, dtype=int))


def solved_states(records: Sequence[dict]) -> list[dict]:
    """The policy records with a child proved won."""
    return [r for r in records if any(c.get("status") == "win" for c in r["children"])]


def _value_design(feat: Featurizer, records: Sequence[dict]):
    X = feat.state_text_rows([r["state"] for r in records],
                             [r.get("tokens") or () for r in records])
    v = np.clip(np.array([float(r["value"]) for r in records]), 0.0, 1.0)
    return X, v


def fit(puzzle: str, policy: Sequence[dict], value: Sequence[dict], *, bits: int = DEFAULT_BITS,
        alpha: float = 0.3, c: float = 20.0, val_policy: Sequence[dict] = (),
        val_value: Sequence[dict] = (), meta: dict | None = None,
        policy_states: str = "all") -> LinearModel:
    """The model fitted to `policy`/`value` records; metrics on the val records (if any).
    `policy_states`: "all" the policy records, or only the "solved" ones (`solved_states`)."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression, Ridge

    if policy_states not in POLICY_STATES:
        raise ValueError(f"policy states must be one of {', '.join(POLICY_STATES)}, "
                         f"got {policy_states!r}")
    policy = [r for r in policy if len(r.get("children") or ()) > 1]   # one child: no choice
    if policy_states == "solved":
        policy = solved_states(policy)
    if not policy and not value:
        raise EmptyTraces("no policy or value records to fit (an empty trace set)")
    feat = Featurizer(bits)
    width = 1 << bits
    pw, pb = np.zeros(2 * width), 0.0
    if policy:
        X, y, w, _ = _policy_design(feat, policy)
        reg = Ridge(alpha=alpha, solver="sparse_cg", max_iter=500).fit(X, y, sample_weight=w)
        pw, pb = reg.coef_.ravel(), float(reg.intercept_)
    vw, vb = np.zeros(width), 0.0
    if value:
        X, v = _value_design(feat, value)
        labels = np.array([1.0, 0.0])
        both = sp.vstack([X, X]).tocsr()
        yy = np.repeat(labels, X.shape[0])
        ww = np.concatenate([v, 1.0 - v])
        keep = ww > 0
        if len(set(yy[keep])) == 2:
            clf = LogisticRegression(C=c, max_iter=300).fit(both[keep], yy[keep],
                                                              sample_weight=ww[keep])
            vw, vb = clf.coef_.ravel(), float(clf.intercept_[0])
        else:      # every label the same: a constant value
            p = float(np.clip(v.mean(), 1e-3, 1 - 1e-3))
            vb = float(np.log(p / (1 - p)))
    manifest = {**(meta or {}), "data_sha256": data_hash(list(policy) + list(value)),
                "train_records": {"policy": len(policy), "value": len(value)},
                "fit": {"policy": f"ridge(alpha={alpha}) on centred log(target + {EPS})"
                                  + (" of the solved states" if policy_states == "solved" else ""),
                        "value": f"logistic(C={c}) with soft labels"},
                "feature_version": FEATURE_VERSION}
    model = LinearModel(puzzle=puzzle, bits=bits, policy_w=pw, policy_b=pb, value_w=vw,
                        value_b=vb, manifest=manifest)
    model.manifest["metrics"] = {"train": evaluate(model, policy, value),
                                 "val": evaluate(model, val_policy, val_value)}
    return model


def evaluate(model: LinearModel, policy: Sequence[dict], value: Sequence[dict]) -> dict:
    """Policy: mean cross-entropy against the target and top-1 agreement (the model's favourite
    child is one the target favours most), with the uniform policy's figures beside them. Value:
    Brier score, and the constant predictor's (the mean label) beside it."""
    out: dict = {}
    policy = [r for r in policy if len(r.get("children") or ()) > 1]
    if policy:
        X, _, _, groups = _policy_design(model.featurizer, policy)
        z = X @ model.policy_w + model.policy_b
        ce = ce_u = top = top_u = 0.0
        for g, rec in enumerate(policy):
            t = np.array([c["target"] for c in rec["children"]], dtype=float)
            p = softmax(z[groups == g])
            u = np.full(len(t), 1.0 / len(t))
            ce += float(-(t * np.log(p + 1e-12)).sum())
            ce_u += float(-(t * np.log(u)).sum())
            best = t.max()
            top += float(t[int(np.argmax(p))] == best)
            top_u += float((t == best).mean())
        n = len(policy)
        out["policy"] = {"states": n, "cross_entropy": ce / n, "uniform_cross_entropy": ce_u / n,
                         "top1": top / n, "uniform_top1": top_u / n}
    if value:
        X, v = _value_design(model.featurizer, value)
        pred = model.values_from_rows(X)
        out["value"] = {"states": len(v), "brier": float(np.mean((pred - v) ** 2)),
                        "constant_brier": float(np.mean((v.mean() - v) ** 2))}
    return out
