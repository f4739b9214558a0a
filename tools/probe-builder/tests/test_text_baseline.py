"""The text baseline on tiny synthetic scenarios: a word that marks positives is found on held-out
families; when a positive and its negative have the same text, nothing but the text can leak
the label (ids, families, order), and the pairs are at chance."""

from probe_builder.scenarios import Scenario
from probe_builder.text_baseline import evaluate_concept

WORDS = "apple river stone cloud lamp table garden music paper window".split()


def _pair(i: int, family: str, marked: bool) -> list[Scenario]:
    base = f"{WORDS[i % 10]} {WORDS[(i * 3) % 10]} {WORDS[(i * 7) % 10]} request number {i}"
    # Unmarked: positive and negative have the same text; only the label differs.
    pos = f"{base} zebra" if marked else base
    neg = f"{base} alpha" if marked else base
    return [Scenario(f"p{i}-pos", f"p{i}", "x", f"st{i % 3}", family, 1, (("user", pos),)),
            Scenario(f"p{i}-neg", f"p{i}", "x", f"st{i % 3}", family, 0, (("user", neg),))]


def _controls() -> list[Scenario]:
    return [Scenario(f"c{i}", None, "control", "ctl", f"cf{i % 7}", 0, (("user", f"{WORDS[i % 10]} everyday {i} alpha"),)) for i in range(70)]


def test_a_lexical_marker_is_found_on_held_out_families():
    pairs = [s for i in range(60) for s in _pair(i, f"fam{i % 12}", marked=True)]
    r = evaluate_concept(pairs, _controls())
    assert r["pairs"] == 60
    assert r["families_out"]["auroc_pairs"] > 0.95
    assert r["subtype_out"]["min_auroc_pairs"] > 0.95


def test_no_lexical_signal_means_chance():
    pairs = [s for i in range(60) for s in _pair(i, f"fam{i % 12}", marked=False)]
    r = evaluate_concept(pairs, _controls())
    assert r["families_out"]["auroc_pairs"] == 0.5
    assert r["subtype_out"]["mean_auroc_pairs"] == 0.5
