"""compare-models: the shared share of rows, the holdout kept out of training, and a verdict that
follows the residual stream's signal (synthetic activations, no model)."""

from collections import Counter

import numpy as np
import pytest

from probe_builder.chat import ROLE_CODE
from probe_builder.model_compare import (COMPARE_LAYERS, HOLDOUT_CONTROL, evaluate_model, holdout_rows, in_share, paired_bootstrap,
                                         parse_layers, render, rule, subset_rows, text_baseline)
from probe_builder.scenario_eval import load_scenario_acts
from probe_builder.scenarios import CONCEPTS, Scenario, write_jsonl


def test_share_keeps_whole_pairs_and_is_stable():
    a, b = subset_rows(0.3, 0.12), subset_rows(0.3, 0.12)
    assert {k: [r.id for r in v] for k, v in a.items()} == {k: [r.id for r in v] for k, v in b.items()}
    for c in CONCEPTS:
        rows = a[f"{c}.jsonl"]
        assert rows and all(r.concept == c and r.signal is None for r in rows)
        sides = Counter((r.pair, r.label) for r in rows)
        assert all(sides[(p, 1 - l)] for p, l in sides), "a pair is read with both its sides"
        # pairs are sampled, not families: most families keep some of their pairs
        all_fams = {r.family for r in __import__("probe_builder.scenarios", fromlist=["load_concept"]).load_concept(c) if r.signal is None}
        assert len({r.family for r in rows}) > 0.5 * len(all_fams)
    bigger = subset_rows(0.6, 0.12)
    for c in CONCEPTS:  # a larger share contains the smaller one
        assert {r.id for r in a[f"{c}.jsonl"]} <= {r.id for r in bigger[f"{c}.jsonl"]}
    assert in_share("x", 0.0) is False and in_share("x", 1.0) is True


def test_layers_override_one_model_and_refuse_nonsense():
    got = parse_layers(["gemma3-270m:12, 6,9,6"], COMPARE_LAYERS)
    assert got["gemma3-270m"] == [6, 9, 12] and got["smollm2-135m"] == COMPARE_LAYERS["smollm2-135m"]
    assert COMPARE_LAYERS["gemma3-270m"] != [6, 9, 12], "the defaults are not modified"
    for bad in ("gemma3-270m", "llama:3", "gemma3-270m:x", "gemma3-270m:", "gemma3-270m:0,3"):
        with pytest.raises(ValueError, match="--layers"):
            parse_layers([bad], COMPARE_LAYERS)


def test_holdout_rows_never_carry_a_training_concept():
    rows = holdout_rows()
    assert not {r.concept for r in rows} & set(CONCEPTS + ("control",))
    n = Counter((r.concept, r.label) for r in rows)
    assert n[(HOLDOUT_CONTROL, 0)] == 120
    for c in CONCEPTS:
        assert n[(f"holdout-{c}", 1)] == 40 and n[(f"holdout-{c}", 0)] == 40


def _synthetic(tmp_path, strength: float, seed: int = 0):
    """Scenarios with 8 scope tokens each; a label direction of `strength` in every positive token
    (per concept its own direction), Gaussian noise elsewhere."""
    rng = np.random.default_rng(seed)
    d, rows = 16, []
    for ci, c in enumerate(CONCEPTS):
        for f in range(30):
            for p in range(2):
                pair = f"{c}-f{f}-p{p}"
                for label in (1, 0):
                    rows.append(Scenario(f"{pair}-{label}", pair, c, "ab"[f % 2], f"{c}-fam{f}", label,
                                         (("user", "u"), ("assistant", "a"), ("tool", "t"))))
    rows += [Scenario(f"ctl-{i}", None, "control", "everyday", f"ctl-fam{i // 3}", 0, (("user", "u"),)) for i in range(150)]
    for c in CONCEPTS:
        rows += [Scenario(f"ho-{c}-{i}", None, f"holdout-{c}", "x", f"ho-{c}-{i}", i % 2, (("user", "u"),)) for i in range(20)]
    rows += [Scenario(f"ho-ev-{i}", None, HOLDOUT_CONTROL, "everyday", f"ho-ev-{i}", 0, (("user", "u"),)) for i in range(20)]
    dirs = {c: np.eye(d)[i] for i, c in enumerate(CONCEPTS)}
    roles = [ROLE_CODE["user"]] * 3 + [ROLE_CODE["assistant"]] * 3 + [ROLE_CODE["tool"]] * 2
    conv, role, pos, acts = [], [], [], {1: [], 2: []}
    for i, r in enumerate(rows):
        concept = r.concept.removeprefix("holdout-")
        for t, ro in enumerate(roles):
            conv.append(i); role.append(ro); pos.append(t)
            for l in (1, 2):
                x = rng.normal(size=d)
                if r.label == 1 and concept in dirs:
                    x += strength * dirs[concept] * (1.0 if l == 2 else 0.3)
                acts[l].append(x)
    write_jsonl(rows, tmp_path / "all.jsonl")
    np.savez(tmp_path / "all.npz", conv=np.array(conv, np.int32), role=np.array(role, np.int8), token=np.zeros(len(conv), np.int32),
             pos=np.array(pos, np.int32), sig=np.zeros(len(conv), bool), **{f"L{l}": np.array(a, np.float16) for l, a in acts.items()})
    (tmp_path / "all.ids").write_text("\n".join(r.id for r in rows))
    return load_scenario_acts(tmp_path, ["all.jsonl"], scenario_dir=tmp_path), rows


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    signal, rows = _synthetic(tmp_path_factory.mktemp("signal"), strength=1.5)
    noise, _ = _synthetic(tmp_path_factory.mktemp("noise"), strength=0.0)
    return evaluate_model(signal, [1, 2], 7), evaluate_model(noise, [1, 2], 7), rows


def test_the_model_whose_residuals_carry_the_label_wins(compared):
    sig, noise, _ = compared
    for c in CONCEPTS:
        assert sig[c]["test"]["auroc_pairs"] > 0.9, c
        assert sig[c]["holdout"]["auroc_pairs"] > 0.9, c
        assert sig[c]["subtype_out"]["mean_auroc_pairs"] > 0.9, c
        assert noise[c]["test"]["auroc_pairs"] < 0.8, c
        # the stronger layer is chosen inside DEV
        assert sig[c]["chosen"]["layers"] == [2], c
    assert rule(sig)["score"] > rule(noise)["score"] + 0.2
    d = paired_bootstrap(sig, noise, "test_pairs", seed=1, n=200)
    assert d["mean_auroc_difference"] > 0.2 and d["ci95"][0] > 0.1 and d["ci95"][0] <= d["mean_auroc_difference"] <= d["ci95"][1]
    same = paired_bootstrap(sig, sig, "holdout_pairs", seed=1, n=200)
    assert same == {"mean_auroc_difference": 0.0, "ci95": [0.0, 0.0], "resamples": 200}


def test_holdout_rows_are_never_trained_on(compared):
    sig, _, rows = compared
    for c in CONCEPTS:
        n = sig[c]["holdout"]["n"]
        assert n == {"positives": 10, "hard_negatives": 10, "everyday": 20}
        t = sig[c]["test"]["n"]
        # TEST and controls come from the protocol concepts only
        assert t["positives"] + t["hard_negatives"] <= sum(1 for r in rows if r.concept == c)


def test_text_baseline_and_render(compared):
    sig, noise, rows = compared
    tb = text_baseline(rows)  # every text is the same: the baseline has nothing to read
    for c in CONCEPTS:
        assert tb[c]["test"]["auroc_pairs"] == 0.5
    res = {"difference": {p: paired_bootstrap(sig, noise, p, seed=1, n=50) for p in ("test_pairs", "holdout_pairs")}, "pair_share": 0.3, "control_share": 0.12, "rows": {"all.jsonl": len(rows)}, "text_baseline": tb,
           "text_baseline_rule": rule(tb), "better": "signal",
           "models": {"signal": {"concepts": sig, "rule": rule(sig), "tokens": 1, "seconds": 1},
                      "noise": {"concepts": noise, "rule": rule(noise), "tokens": 1, "seconds": 1}}}
    md = render(res)
    assert "Generalises better by the rule: **signal**" in md
    assert md.count("| harmful_intent |") == 1
    assert "Paired bootstrap (signal minus noise" in md
