"""`--prompts FILE`: the user's own prompt templates, checked before any model is asked.

The file is a JSON object mapping a prompt name to a template in Python's `str.format`
syntax (write `{{` and `}}` for literal braces); each filled template is sent as one user
message. Names and their placeholders:

  propose  {state} (the state as `puzzle.render` writes it), {description}, and the puzzle's
           own fields (`types.PromptFields`, e.g. Game of 24's {numbers})
  value    the same as propose
  verify   {description}, {start}, {steps} (the earlier steps, numbered), {latest} (the step
           judged), {state} (after it)

A propose or value template must show the state (one of its state placeholders), a verify
template the step it asks about ({latest}). Any other name or placeholder is an error, so a
typo is reported before a run, not discovered in its results. This is how a paper's exact
prompts are used: the project ships only its own.
"""
from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..types import Messages, PromptFields

_GENERIC = ("state", "description")
KEYS: dict[str, tuple[str, ...]] = {
    "propose": _GENERIC,
    "value": _GENERIC,
    "verify": ("description", "start", "steps", "latest", "state"),
}


def _fields(template: str) -> list[str]:
    """The placeholder names of `template`; ValueError for bad syntax or a non-plain name."""
    names = []
    for _, name, spec, conv in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conv:
            raise ValueError(f"placeholder {{{name}{'!' + conv if conv else ''}"
                             f"{':' + spec if spec else ''}}} is not a plain {{name}}")
        names.append(name)
    return names


@dataclass(frozen=True, slots=True)
class PromptFile:
    """Checked templates from a prompt file (`load_prompts`); picklable, for bench workers."""

    path: str
    templates: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        return dict(self.templates).get(key)

    def check(self, puzzle: Any) -> None:
        """ValueError (one line) when a template uses a placeholder `puzzle` cannot fill, or
        shows no state."""
        extra = puzzle_fields(puzzle)
        for key, template in self.templates:
            allowed = KEYS[key] + (extra if key != "verify" else ())
            used = set(_fields(template))
            unknown = sorted(used - set(allowed))
            if unknown:
                raise ValueError(f"prompts {self.path}: {key!r} uses unknown placeholder "
                                 f"{{{unknown[0]}}} (known for {puzzle.name}: "
                                 f"{', '.join('{' + a + '}' for a in allowed)})")
            needed = ("latest",) if key == "verify" else ("state",) + extra
            if not used & set(needed):
                raise ValueError(f"prompts {self.path}: {key!r} has no placeholder for "
                                 f"{'the step it judges' if key == 'verify' else 'the state'} "
                                 f"(use {' or '.join('{' + n + '}' for n in needed)})")

    def messages(self, key: str, **fields: str) -> Messages | None:
        """The filled template `key` as one user message; None when the file has no `key`."""
        template = self.get(key)
        if template is None:
            return None
        return [{"role": "user", "content": template.format_map(fields)}]

    def to_dict(self) -> dict:
        return {"path": self.path, "templates": dict(self.templates)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "PromptFile":
        return cls(str(d["path"]), tuple(sorted(d["templates"].items())))


def puzzle_fields(puzzle: Any) -> tuple[str, ...]:
    """The puzzle's own placeholder names (`types.PromptFields`), without rendering a state."""
    if isinstance(puzzle, PromptFields):
        return tuple(puzzle.prompt_field_names)
    return ()


def load_prompts(path: str) -> PromptFile:
    """Read and check a prompt file (names, syntax); ValueError with one line naming the
    problem. Placeholders are checked against a puzzle by `PromptFile.check`."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"prompts {path}: cannot read it ({e.strerror or type(e).__name__})") \
            from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"prompts {path}: not a JSON file ({e})") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"prompts {path}: expected a JSON object "
                         f"{{name: template}} with names from {', '.join(KEYS)}")
    for key, template in raw.items():
        if key not in KEYS:
            raise ValueError(f"prompts {path}: unknown prompt name {key!r} "
                             f"(known: {', '.join(KEYS)})")
        if not isinstance(template, str) or not template.strip():
            raise ValueError(f"prompts {path}: {key!r} must be a non-empty string")
        try:
            _fields(template)
        except ValueError as e:
            raise ValueError(f"prompts {path}: {key!r}: {e}") from None
    return PromptFile(str(path), tuple(sorted(raw.items())))
