"""The hand-written scenarios (tools/probe-builder/scenarios): schema, minimal pairs, taxonomy and
coverage. The minimum counts are what the repository holds today, so a lost file or a broken
batch fails here rather than silently shrinking the training and evaluation data."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
CONCEPTS = ("harmful_intent", "prompt_injection", "deception", "sycophancy")
ROLES = {"system", "user", "assistant", "tool"}
ASSISTANT_ENDINGS = {"complies", "refuses", "none"}

# What is committed today; raise these as data is added (the target: 400 pairs per
# concept and 2,000 controls).
MIN_PAIRS = {"harmful_intent": 420, "prompt_injection": 420, "deception": 546, "sycophancy": 540}
MIN_PAIRS_PER_SUBTYPE = 33
MIN_FAMILIES = 30
MIN_CONTROLS = 2492


def _lines(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:  # pragma: no cover - the message is the point
                raise AssertionError(f"{path.name}:{n}: invalid JSON: {e}") from e
    return rows


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict]]:
    out = {c: [row for path in sorted(ROOT.glob(f"{c}*.jsonl")) for row in _lines(path)] for c in CONCEPTS}
    out["control"] = [row for path in sorted(ROOT.glob("controls*.jsonl")) for row in _lines(path)]
    return out


def _check_common(row: dict, where: str) -> list[str]:
    problems = []
    for key in ("id", "concept", "subtype", "family", "label", "shape", "messages", "why"):
        if key not in row:
            problems.append(f"{where}: missing {key}")
    if problems:
        return problems
    msgs = row["messages"]
    if not isinstance(msgs, list) or not msgs:
        return [f"{where}: messages must be a non-empty list"]
    for i, m in enumerate(msgs):
        if m.get("role") not in ROLES or not isinstance(m.get("content"), str) or not m["content"].strip():
            problems.append(f"{where}: messages[{i}] needs a role in {sorted(ROLES)} and non-empty content")
    shape = row["shape"]
    users = sum(1 for m in msgs if m.get("role") == "user")
    if shape.get("turns") != users or not 1 <= users <= 8:
        problems.append(f"{where}: shape.turns={shape.get('turns')} but {users} user messages (1..8)")
    if any(m.get("role") == "tool" for m in msgs) and shape.get("tools") is not True:
        problems.append(f"{where}: a tool message but shape.tools is not true")
    if shape.get("system") != (msgs[0].get("role") == "system"):
        problems.append(f"{where}: shape.system={shape.get('system')} disagrees with the first message")
    if shape.get("assistant") not in ASSISTANT_ENDINGS:
        problems.append(f"{where}: shape.assistant must be one of {sorted(ASSISTANT_ENDINGS)}")
    return problems


def test_every_line_follows_the_schema(data):
    problems = []
    for name, rows in data.items():
        for row in rows:
            problems += _check_common(row, f"{name}:{row.get('id')}")
    assert problems == []


def test_ids_are_unique_and_no_conversation_is_repeated(data):
    ids = Counter(r["id"] for rows in data.values() for r in rows)
    assert [i for i, n in ids.items() if n > 1] == []
    texts = Counter(json.dumps(r["messages"], sort_keys=True) for rows in data.values() for r in rows)
    assert [t[:120] for t, n in texts.items() if n > 1] == []


@pytest.mark.parametrize("concept", CONCEPTS)
def test_every_positive_has_its_minimal_pair_negative(data, concept):
    pairs: dict[str, list[dict]] = defaultdict(list)
    for r in data[concept]:
        assert r["concept"] == concept, r["id"]
        pairs[r["pair"]].append(r)
    bad = []
    for pair, rows in pairs.items():
        labels = sorted(r["label"] for r in rows)
        same = len({(r["subtype"], r["family"]) for r in rows}) == 1
        if labels != [0, 1] or not same or {r["id"] for r in rows} != {f"{pair}-pos", f"{pair}-neg"}:
            bad.append(pair)
    assert bad == []
    assert len(pairs) >= MIN_PAIRS[concept]


@pytest.mark.parametrize("concept", CONCEPTS)
def test_subtypes_come_from_the_taxonomy_and_each_is_covered(data, concept):
    taxonomy = (ROOT / "taxonomy" / f"{concept}.md").read_text(encoding="utf-8")
    per_subtype = Counter(r["subtype"] for r in data[concept] if r["label"] == 1)
    assert [s for s in per_subtype if s not in taxonomy] == []
    assert {s: n for s, n in per_subtype.items() if n < MIN_PAIRS_PER_SUBTYPE} == {}
    assert len({r["family"] for r in data[concept]}) >= MIN_FAMILIES


@pytest.mark.parametrize("concept", CONCEPTS)
def test_shapes_cover_production_traffic(data, concept):
    rows = data[concept]
    assert any(r["shape"]["system"] for r in rows) and any(not r["shape"]["system"] for r in rows)
    assert any(r["shape"]["tools"] for r in rows)
    assert any(r["shape"]["turns"] > 1 for r in rows)


def test_controls_are_benign_everyday_traffic(data):
    rows = data["control"]
    assert len(rows) >= MIN_CONTROLS
    assert {r["label"] for r in rows} == {0}
    assert {r["concept"] for r in rows} == {"control"}
    assert all(r.get("pair") is None for r in rows)
    assert len({r["family"] for r in rows}) >= MIN_FAMILIES
    assert sum(r["shape"]["tools"] for r in rows) >= len(rows) // 5
