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


def split_of(group: str, seed: int) -> str:
    """Deterministic group -> split (60/20/20 by hash), stable across runs and machines."""
    h = int(hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()[:8], 16) % 100
    return "train" if h < 60 else "val" if h < 80 else "test"


def labeled_set(cache: Path, seed: int) -> tuple[list[Conversation], list[dict], dict]:
    convs, pairs, prov = load_registry_data(cache)
    convs += authored(pairs, seed)
    seen: set[str] = set()
    for c in convs:
        if c.id in seen:
            raise ValueError(f"duplicate conversation id {c.id}")
        seen.add(c.id)
        c.meta["split"] = split_of(c.group, seed)
    summary = composition(convs)
    provenance = [p.__dict__ for p in prov] + [{"package": "probewatch:authored", "version": "this repository", "license": "Apache-2.0", "sha256": ""}]
    return convs, provenance, summary


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
