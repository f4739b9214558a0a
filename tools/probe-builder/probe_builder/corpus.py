"""The labeled set with its group splits, and the unlabeled SAE corpus."""

from __future__ import annotations

import hashlib
import json
import pydoc
import sys
from collections import Counter
from pathlib import Path

from .authored import authored
from .datasets import CONCEPTS, Conversation, general_text, load_registry_data

SPLITS = ("train", "val", "test")


def _h(seed: int, name: str) -> int:
    return int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:8], 16)


def family_of(group: str) -> str:
    """A group's family: its name without the last '-' segment (e.g. hh-rlhf-3 -> hh-rlhf)."""
    return group.rsplit("-", 1)[0] if "-" in group else group


def assign_splits(groups: list[str], seed: int) -> dict[str, str]:
    """Deterministic group -> split, stratified by family: within a family of n >= 3 groups
    (ordered by hash) about 20% go to test and 20% to validation, at least one each, so every
    family is represented in every split; smaller families are split by hash (60/20/20)."""
    fams: dict[str, list[str]] = {}
    for g in sorted(set(groups)):
        fams.setdefault(family_of(g), []).append(g)
    out: dict[str, str] = {}
    for members in fams.values():
        members.sort(key=lambda g: _h(seed, g))
        n = len(members)
        if n < 3:
            for g in members:
                h = _h(seed, g) % 100
                out[g] = "train" if h < 60 else "val" if h < 80 else "test"
            continue
        n_test = max(1, round(0.2 * n))
        n_val = max(1, round(0.2 * n))
        for i, g in enumerate(members):
            out[g] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def labeled_set(cache: Path, seed: int) -> tuple[list[Conversation], list[dict], dict]:
    convs, pairs, prov = load_registry_data(cache)
    convs += authored(pairs, seed)
    seen: set[str] = set()
    for c in convs:
        if c.id in seen:
            raise ValueError(f"duplicate conversation id {c.id}")
        seen.add(c.id)
    apply_splits(convs, seed)
    summary = composition(convs)
    provenance = [p.__dict__ for p in prov] + [{"package": "probewatch:authored", "version": "this repository", "license": "Apache-2.0", "sha256": ""}]
    return convs, provenance, summary


def apply_splits(convs: list[Conversation], seed: int) -> None:
    splits = assign_splits([c.group for c in convs], seed)
    for c in convs:
        c.meta["split"] = splits[c.group]


def composition(convs: list[Conversation]) -> dict:
    out: dict = {}
    for concept in CONCEPTS:
        rows = [c for c in convs if concept in c.labels]
        per = {}
        for split in SPLITS:
            r = [c for c in rows if c.meta["split"] == split]
            per[split] = {"positive": sum(c.labels[concept] for c in r), "negative": sum(1 - c.labels[concept] for c in r),
                          "controls": sum(c.control for c in r)}
        per["sources"] = dict(Counter(c.source for c in rows))
        out[concept] = per
    return out


def python_docs(limit_chars: int) -> list[str]:
    """English technical prose from the Python standard library's own documentation."""
    mods = ["os", "re", "json", "collections", "itertools", "functools", "pathlib", "datetime", "logging", "argparse",
            "subprocess", "threading", "asyncio", "unittest", "http.client", "email", "csv", "sqlite3", "random", "statistics",
            "decimal", "fractions", "string", "textwrap", "typing", "dataclasses", "enum", "socket", "shutil", "tempfile"]
    out, total = [], 0
    for name in mods:
        try:
            text = pydoc.render_doc(name, renderer=pydoc.plaintext)
        except Exception:  # noqa: BLE001 - a missing optional module is simply skipped
            continue
        for para in text.split("\n\n"):
            para = " ".join(para.split())
            if len(para) > 200 and sum(ch.isalpha() for ch in para) > 0.6 * len(para):
                out.append(para)
                total += len(para)
        if total > limit_chars:
            break
    return out


def sae_corpus_texts(cache: Path, seed: int) -> tuple[list[str], dict]:
    pkg = general_text(cache)
    docs = python_docs(1_000_000)
    comp = {"registry_general_text": {"items": len(pkg), "chars": sum(map(len, pkg))},
            "python_stdlib_docs": {"items": len(docs), "chars": sum(map(len, docs))}}
    return pkg + docs, comp


def save_jsonl(path: Path, convs: list[Conversation]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for c in convs:
            f.write(json.dumps({**c.to_json(), "split": c.meta["split"]}) + "\n")


if __name__ == "__main__":
    convs, prov, summary = labeled_set(Path(sys.argv[1]), 1234)
    print(json.dumps(summary, indent=1))
