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
    # Composed long conversations: the message index range [start, end) of the embedded passage
    # that carries the label (the rest is benign filler).
    signal: tuple[int, int] | None = None

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
                            tuple((m["role"], m["content"]) for m in r["messages"]),
                            tuple(r["signal"]) if r.get("signal") else None))
    return out


def load_concept(concept: str, root: Path = SCENARIO_DIR) -> list[Scenario]:
    return [s for p in sorted(root.glob(f"{concept}*.jsonl")) for s in _read(p)]


def load_controls(root: Path = SCENARIO_DIR) -> list[Scenario]:
    return [s for p in sorted(root.glob("controls*.jsonl")) for s in _read(p)]


def compose_long(pairs: list[Scenario], controls: list[Scenario], seed: int, pairs_per_concept: int = 16,
                 n_controls: int = 48, min_chars: int = 8_000, max_chars: int = 22_000,
                 same_partition=lambda a, b: True, prefix: str = "long", exclude_pairs: frozenset = frozenset(),
                 position: tuple[float, float] = (0.0, 0.85)) -> list[Scenario]:
    """Long conversations (about 2k-5.5k tokens) where the signal is a small part: a minimal pair's
    messages embedded among the turns of benign controls, both sides of the pair with the same
    filler, so the pair stays minimal. Long controls concatenate several controls. The scenario's
    system message (if any) stays first; filler never includes another system message.
    `same_partition(family_a, family_b)` keeps filler inside the scenario's split. Ids start with
    `prefix`; `exclude_pairs` (pair ids) are not embedded again, so a second set adds new passages.
    `position`: where the passage goes, as a fraction of the filler before it (1.0: last)."""
    import random

    rng = random.Random(seed)
    ctl_by_id = sorted(controls, key=lambda s: s.id)

    def filler(family: str, n_chars: int) -> list[tuple[str, str]]:
        pool = [c for c in ctl_by_id if same_partition(family, c.family)]
        out: list[tuple[str, str]] = []
        size = 0
        while size < n_chars:
            c = rng.choice(pool)
            msgs = [m for m in c.messages if m[0] != "system"]
            out += msgs
            size += sum(len(t) for _, t in msgs)
        return out

    out: list[Scenario] = []
    for concept in CONCEPTS:
        by_pair: dict[str, dict[int, Scenario]] = {}
        for s in pairs:
            if s.concept == concept and s.pair:
                by_pair.setdefault(s.pair, {})[s.label] = s
        chosen = rng.sample(sorted(p for p, d in by_pair.items() if len(d) == 2 and p not in exclude_pairs), pairs_per_concept)
        for pair in chosen:
            pos = by_pair[pair][1]
            fill = filler(pos.family, rng.randint(min_chars, max_chars))
            cut = int(len(fill) * rng.uniform(*position))
            for label in (1, 0):
                s = by_pair[pair][label]
                system = [m for m in s.messages if m[0] == "system"]
                body = [m for m in s.messages if m[0] != "system"]
                msgs = tuple(system + fill[:cut] + body + fill[cut:])
                start = len(system) + cut
                out.append(Scenario(f"{prefix}-{s.id}", f"{prefix}-{pair}", concept, s.subtype, s.family, label, msgs,
                                    (start, start + len(body))))
    for n in range(n_controls):
        first = rng.choice(ctl_by_id)
        system = [m for m in first.messages if m[0] == "system"]
        msgs = tuple(system + [m for m in first.messages if m[0] != "system"] + filler(first.family, rng.randint(min_chars, max_chars)))
        out.append(Scenario(f"{prefix}-ctl-{n}", None, "control", "long_session", first.family, 0, msgs))
    return out


def write_jsonl(rows: list[Scenario], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for s in rows:
            f.write(json.dumps({"id": s.id, "pair": s.pair, "concept": s.concept, "subtype": s.subtype, "family": s.family,
                                "label": s.label, "messages": [{"role": r, "content": c} for r, c in s.messages],
                                **({"signal": list(s.signal)} if s.signal else {})},
                               ensure_ascii=False) + "\n")
