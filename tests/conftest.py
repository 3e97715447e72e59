"""Shared pytest setup: the tests folder on sys.path (helper modules such as game24_oracle and
fault_server), and hypothesis profiles for the fuzz tests.

`ci` (the default) is what CI runs: >= 10,000 examples per parser (issue 7), derandomized so a
run is reproducible, no example database. `dev` is a quick local pass. Pick one with
MCTS_REASON_FUZZ_PROFILE=dev. The profiles are registered, not loaded: tests that set their own
`max_examples` are unaffected; the fuzz tests build their settings from the chosen profile.
"""
import os
import sys

from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))

settings.register_profile("ci", max_examples=10_000, deadline=None, derandomize=True,
                          database=None, print_blob=True)
settings.register_profile("dev", max_examples=500, deadline=None, database=None)
