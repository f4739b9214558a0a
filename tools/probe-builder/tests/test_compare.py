"""`probe-builder compare`: the table and the verdict come from the manifests' held-out figures."""

import copy
import json
from pathlib import Path

from probe_builder.cli import main
from probe_builder.compare import CONCEPTS, compare, generalisation, load_manifest

PACK = Path(__file__).resolve().parents[3] / "probes" / "smollm2-135m-safety"


def _pack(model: str, pairs: float, loso: float) -> dict:
    sub = {"auroc_pairs": pairs, "auroc_vs_controls": 0.99}
    ev = {"test": {"auroc_pairs": pairs, "auroc_vs_controls": 0.98, "recall": 0.7, "fpr_controls": {"rate": 0.005, "upper_95": 0.012},
                   "per_subtype": {"a": sub, "b": sub}},
          "subtype_out": {"mean_auroc_pairs": loso, "per_subtype": {"a": loso, "b": loso}},
          "text_baseline": {"test": {"auroc_pairs": 0.8, "auroc_vs_controls": 0.95, "recall": 0.6, "fpr_controls": 0.01, "per_subtype": {"a": {"auroc_pairs": 0.8}}},
                            "subtype_out": {"mean_auroc_pairs": 0.79, "per_subtype": {"a": 0.79}}}}
    return {"id": f"{model}-safety", "version": "1.0.0", "model": {"id": model}, "concepts": {c: {"evaluation": copy.deepcopy(ev)} for c in CONCEPTS}}


def test_the_verdict_follows_the_held_out_figures_not_the_order():
    a, b = _pack("model-a", 0.90, 0.85), _pack("model-b", 0.88, 0.80)
    assert generalisation(a) == {"test_auroc_pairs": 0.9, "subtype_out_auroc_pairs": 0.85, "score": 0.875}
    for order in ([a, b], [b, a]):
        assert "Generalises better by this rule: **model-a (model-a-safety 1.0.0)**" in compare(order)
    b["concepts"]["deception"]["evaluation"]["subtype_out"]["mean_auroc_pairs"] = 1.0  # b now leads on sub-types left out
    for c in CONCEPTS:
        b["concepts"][c]["evaluation"]["test"]["auroc_pairs"] = 0.95
    assert "**model-b (model-b-safety 1.0.0)**" in compare([a, b])


def test_rows_pair_each_probe_figure_with_the_baseline_and_list_every_sub_type():
    md = compare([_pack("model-a", 0.9, 0.85)])
    assert "| harmful_intent | model-a (model-a-safety 1.0.0) | 0.900 / 0.800 | 0.980 / 0.950 | 0.700 / 0.600 | 0.005 (0.012) / 0.010 | 0.850 / 0.790 |" in md
    assert "| a | 0.900 / 0.800 | 0.850 / 0.790 |" in md
    assert "| b | 0.900 / - | 0.850 / - |" in md  # the baseline has no figure for b: shown as missing, not invented


def test_packs_built_on_different_scenarios_are_flagged():
    a, b = _pack("model-a", 0.9, 0.85), _pack("model-b", 0.9, 0.85)
    a["data"] = {"scenarios": {"control": {"conversations": 10}}}
    b["data"] = {"scenarios": {"control": {"conversations": 10}}}
    assert "Not like for like" not in compare([a, b])
    b["data"]["scenarios"]["control"]["conversations"] = 11
    assert "Not like for like" in compare([a, b])


def test_the_cli_renders_the_shipped_pack(tmp_path):
    out = tmp_path / "cmp.md"
    assert main(["compare", str(PACK), "--out", str(out)]) == 0
    md = out.read_text()
    m = load_manifest(PACK)
    hi = m["concepts"]["harmful_intent"]["evaluation"]
    assert f"{hi['test']['auroc_pairs']:.3f} / {hi['text_baseline']['test']['auroc_pairs']:.3f}" in md
    assert all(f"### {c}" in md for c in CONCEPTS)
    assert json.dumps(m["version"]) and m["version"] in md
