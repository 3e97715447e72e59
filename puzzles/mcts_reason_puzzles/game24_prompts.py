"""Game of 24 prompts, in this project's own words.

The step format ("a op b = c (left: ...)") and the sure / likely / impossible judgement follow
the Tree-of-Thoughts setup (Yao et al., NeurIPS 2023), so results can be set beside the paper's;
the texts and examples are our own. To run with the paper's exact prompts, write them into a
prompt file and pass `--prompts FILE` (docs/llm.md). Each prompt is one user message.
"""
from __future__ import annotations

PROPOSE = """Game of 24: pick two of the numbers, combine them with +, -, * or / and put the \
result back. Write possible next steps, one per line, as: a op b = c (left: the numbers now).
Input: 3 5 7 12
Possible next steps:
12 / 3 = 4 (left: 4 5 7)
7 - 5 = 2 (left: 2 3 12)
3 * 5 = 15 (left: 7 12 15)
12 - 7 = 5 (left: 3 5 5)
5 + 7 = 12 (left: 3 12 12)
3 + 12 = 15 (left: 5 7 15)
Input: {numbers}
Possible next steps:
"""

VALUE = """Can these numbers still make 24 with + - * /, each used once? Try a few combinations, \
then give one word on the last line: sure/likely/impossible.
6 4
6 * 4 = 24
sure
2 9 13
13 + 9 + 2 = 24
sure
1 1 2
(1 + 1) * 2 = 4, 1 + 1 + 2 = 4: all too small
impossible
4 7 8
4 + 7 + 8 = 19, 8 - 7 = 1, 4 * 1 = 4: not yet, but the numbers are in range
likely
{numbers}
"""


def propose_messages(numbers: str) -> list[dict]:
    """`numbers`: the state as text, e.g. "4 9 10 13"."""
    return [{"role": "user", "content": PROPOSE.format(numbers=numbers)}]


def value_messages(numbers: str) -> list[dict]:
    return [{"role": "user", "content": VALUE.format(numbers=numbers)}]
