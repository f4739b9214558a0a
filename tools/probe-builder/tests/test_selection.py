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
