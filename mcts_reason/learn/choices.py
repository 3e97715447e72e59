"""Choices that the learning code and its command-line options share, kept apart from the
modules that use them so that `mcts-reason --help` (which builds every option) imports no more
than this file: `fit` pulls in scipy.sparse (about 100 ms of start-up, measured with
`python -X importtime`)."""
from __future__ import annotations

# `fit(policy_states=...)` / `train --policy-states`: the states the policy is fitted to.
POLICY_STATES = ("all", "solved")

# `traces.records(sft_steps=...)` / `traces --sft-steps` / `train --sft-steps`: lines per propose
# SFT answer (traces.propose_answer).
SFT_STEPS = 3
