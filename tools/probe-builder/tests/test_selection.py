"""Architectures as the selection records them: the calibration's length term is part of the choice."""

from probe_builder.scenario_build import arch_of
from probe_builder.scenario_eval import Arch


def test_an_architecture_round_trips_through_the_selection_record_with_its_length_term():
    a = Arch((18,), ("user", "assistant", "tool"), "rolling", 64, c=0.1, length=True)
    assert arch_of(a.to_json()) == a
    plain = Arch((18,), ("user", "assistant", "tool"), "rolling", 64, c=0.1)
    assert plain.name() != a.name() and a.name().endswith("/length")
    # records written before the length term read as without it
    old = {k: v for k, v in plain.to_json().items() if k != "length_term"}
    assert arch_of(old) == plain


def test_the_trainer_round_trips_and_the_criterion_counts_long_positives_against_the_controls():
    from probe_builder.scenario_build import criterion

    mined = Arch((18,), ("assistant",), "rolling", 64, trainer="mined", c=0.01)
    assert arch_of(mined.to_json()) == mined and "/train-mined/" in mined.name()
    short = {"auroc_pairs": 0.9, "auroc_vs_controls": 0.9}
    assert criterion(short) == 0.9
    # a calibration that never lets a long positive outrank benign traffic loses on the criterion
    # even when its short-conversation and long-pair figures are the same
    good = short | {"auroc_pairs_long": 0.9, "auroc_long_vs_controls": 0.9}
    bad = short | {"auroc_pairs_long": 0.9, "auroc_long_vs_controls": 0.5}
    assert criterion(good) == 0.9 and criterion(bad) == 0.8
