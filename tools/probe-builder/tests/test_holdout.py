"""The holdout conversations (holdout/README.md): well-formed events, balanced labels, and no
message shared with the scenarios the packs are built from (so measuring on them is a held-out
reading, not a repeat of training text)."""

import json
from pathlib import Path

import pytest

from probe_builder.scenarios import CONCEPTS

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = ROOT / "holdout"
ROLES = {"system", "user", "assistant", "tool"}


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (HOLDOUT / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("concept", CONCEPTS)
def test_each_concept_file_has_40_positives_and_40_hard_negatives(concept):
    rows = _rows(f"{concept}.jsonl")
    assert sorted(r["labels"][concept] for r in rows) == [0] * 40 + [1] * 40
    assert all(set(r["labels"]) == {concept} for r in rows)


def test_everyday_traffic_is_benign_for_every_concept():
    rows = _rows("everyday.jsonl")
    assert len(rows) == 120
    assert all(r["labels"] == {c: 0 for c in CONCEPTS} for r in rows)


def test_events_are_well_formed_and_ids_unique():
    ids = []
    for f in sorted(HOLDOUT.glob("*.jsonl")):
        for r in _rows(f.name):
            ids.append(r["id"])
            assert r["tenant"] == "holdout" and r["messages"], r["id"]
            assert all(m["role"] in ROLES and isinstance(m["content"], str) and m["content"].strip() for m in r["messages"]), r["id"]
    assert len(ids) == len(set(ids)) == 440


def test_no_holdout_message_is_also_in_the_scenarios():
    seen = set()
    for f in (ROOT / "scenarios").glob("*.jsonl"):
        for line in f.read_text().splitlines():
            if line.strip():
                seen.update(m["content"].strip() for m in json.loads(line)["messages"] if len(m["content"].strip()) >= 40)
    shared = [(r["id"], m["content"][:60]) for f in sorted(HOLDOUT.glob("*.jsonl")) for r in _rows(f.name)
              for m in r["messages"] if len(m["content"].strip()) >= 40 and m["content"].strip() in seen]
    assert shared == []
