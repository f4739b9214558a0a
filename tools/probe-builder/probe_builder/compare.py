"""`probe-builder compare`: packs side by side on the held-out figures their manifests carry.

Issue 11 asks for the second model's pack to be judged against the first on held-out families,
per concept and sub-type, each beside the text-only baseline on the same split, and for the one
that generalises better to ship as default. Everything here is read from `manifest.json`: the
TEST figures (families never trained or calibrated on) and the leave-one-sub-type-out figures
inside DEV, which `build` writes for the probe and for the baseline.

"Generalises better" is decided by one documented rule: the mean over concepts of the TEST
AUROC against minimal-pair negatives plus the mean of the leave-one-sub-type-out AUROC. The
minimal-pair AUROC is the hardest held-out reading, and sub-types left out are the closest the
builder has to conversations nobody wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

CONCEPTS = ("harmful_intent", "prompt_injection", "deception", "sycophancy")


def load_manifest(pack_dir: Path) -> dict:
    return json.loads((pack_dir / "manifest.json").read_text())


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _label(m: dict) -> str:
    return f"{m['model']['id']} ({m['id']} {m['version']})"


def generalisation(m: dict) -> dict:
    """The rule's parts for one pack: mean TEST AUROC pairs, mean leave-one-sub-type-out AUROC, and their mean."""
    ev = [m["concepts"][c]["evaluation"] for c in CONCEPTS]
    pairs = sum(e["test"]["auroc_pairs"] for e in ev) / len(ev)
    loso = sum(e["subtype_out"]["mean_auroc_pairs"] for e in ev) / len(ev)
    return {"test_auroc_pairs": round(pairs, 4), "subtype_out_auroc_pairs": round(loso, 4), "score": round((pairs + loso) / 2, 4)}


def compare(manifests: list[dict]) -> str:
    """Markdown: the verdict, per-concept figures (probe / text), then per sub-type."""
    if not manifests:
        raise ValueError("no packs to compare")
    g = [generalisation(m) for m in manifests]
    best = max(range(len(manifests)), key=lambda i: g[i]["score"])
    out = ["# Packs compared on held-out families", ""]
    out.append("| pack | mean TEST AUROC pairs | mean leave-one-sub-type-out AUROC | score (mean of both) |")
    out.append("|---|---|---|---|")
    for m, x in zip(manifests, g):
        out.append(f"| {_label(m)} | {_f(x['test_auroc_pairs'])} | {_f(x['subtype_out_auroc_pairs'])} | {_f(x['score'])} |")
    out += ["", f"Generalises better by this rule: **{_label(manifests[best])}**." if len(manifests) > 1 else ""]
    if len({json.dumps(m.get("data", {}).get("scenarios"), sort_keys=True) for m in manifests}) > 1:
        out += ["", "**Not like for like:** the packs were built on different scenario sets (their manifests' `data.scenarios` "
                    "differ), so their TEST figures are not on the same conversations."]
    out.append("")
    out.append("## Per concept (TEST families; probe / text baseline)")
    out.append("")
    out.append("| concept | pack | AUROC pairs | AUROC vs controls | recall at threshold | FPR controls (95% upper) | leave-one-sub-type-out |")
    out.append("|---|---|---|---|---|---|---|")
    for c in CONCEPTS:
        for m in manifests:
            e = m["concepts"][c]["evaluation"]
            t, tb = e["test"], e["text_baseline"]
            fpr = t["fpr_controls"]
            out.append(f"| {c} | {_label(m)} | {_f(t['auroc_pairs'])} / {_f(tb['test']['auroc_pairs'])} | "
                       f"{_f(t['auroc_vs_controls'])} / {_f(tb['test']['auroc_vs_controls'])} | {_f(t['recall'])} / {_f(tb['test']['recall'])} | "
                       f"{_f(fpr['rate'])} ({_f(fpr['upper_95'])}) / {_f(tb['test']['fpr_controls'])} | "
                       f"{_f(e['subtype_out']['mean_auroc_pairs'])} / {_f(tb['subtype_out']['mean_auroc_pairs'])} |")
    out.append("")
    out.append("## Per sub-type (AUROC pairs on TEST, probe / text; leave-one-sub-type-out, probe / text)")
    for c in CONCEPTS:
        out += ["", f"### {c}", ""]
        out.append("| sub-type | " + " | ".join(f"{_label(m)} TEST | {_label(m)} left out" for m in manifests) + " |")
        out.append("|---" * (1 + 2 * len(manifests)) + "|")
        subtypes = sorted({s for m in manifests for s in m["concepts"][c]["evaluation"]["test"]["per_subtype"]})
        for s in subtypes:
            cells = []
            for m in manifests:
                e = m["concepts"][c]["evaluation"]
                probe = e["test"]["per_subtype"].get(s, {}).get("auroc_pairs")
                text = e["text_baseline"]["test"]["per_subtype"].get(s, {}).get("auroc_pairs")
                lo_p = e["subtype_out"]["per_subtype"].get(s)
                lo_t = e["text_baseline"]["subtype_out"]["per_subtype"].get(s)
                cells += [f"{_f(probe)} / {_f(text)}", f"{_f(lo_p)} / {_f(lo_t)}"]
            out.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
