"""Puzzle domains for mcts-reason, each registered under the `mcts_reason.puzzles` entry point."""
