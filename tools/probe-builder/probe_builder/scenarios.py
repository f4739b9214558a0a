"""The hand-written scenarios (tools/probe-builder/scenarios): minimal pairs per concept and
benign controls, loaded as plain records. Pure file reading; the schema is checked by
tests/test_scenarios.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
CONCEPTS = ("harmful_intent", "prompt_injection", "deception", "sycophancy")


@dataclass(frozen=True)
class Scenario:
    id: str
    pair: str | None
    concept: str  # a concept, or "control"
    subtype: str
    family: str
    label: int
    messages: tuple[tuple[str, str], ...]

    def text(self) -> str:
        """The conversation as one text, roles included (what a text-only model sees)."""
        return "\n".join(f"{role}: {content}" for role, content in self.messages)


def _read(path: Path) -> list[Scenario]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        out.append(Scenario(r["id"], r.get("pair"), r["concept"], r["subtype"], r["family"], int(r["label"]),
                            tuple((m["role"], m["content"]) for m in r["messages"])))
    return out


def load_concept(concept: str, root: Path = SCENARIO_DIR) -> list[Scenario]:
    return [s for p in sorted(root.glob(f"{concept}*.jsonl")) for s in _read(p)]


def load_controls(root: Path = SCENARIO_DIR) -> list[Scenario]:
    return [s for p in sorted(root.glob("controls*.jsonl")) for s in _read(p)]
