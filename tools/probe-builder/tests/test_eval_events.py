"""The labelled event sets `probewatch eval` reads: TEST families only, long sets and the streaming cut."""

from probe_builder.eval_events import select, streaming_cut
from probe_builder.scenario_eval import is_test
from probe_builder.scenarios import CONCEPTS


def test_select_is_test_families_only_and_long_adds_the_long_sets():
    short = select(None, None, 1234)
    long = select(None, None, 1234, long=True)
    assert all(is_test(s.family) for s, _ in long)
    assert len(long) > len(short)
    added = {s.id for s, _ in long} - {s.id for s, _ in short}
    assert any(i.startswith("long-") for i in added)                      # composed
    assert any(not i.startswith("long-") for i in added)                  # hand-written long pairs
    for s, labels in long:
        if s.concept == "control":
            assert labels == {c: 0 for c in CONCEPTS}
        else:
            assert labels == {s.concept: s.label}


def test_streaming_cut_ends_on_the_passage_and_cuts_controls_at_three_turns():
    rows = streaming_cut()
    whole = {s.id: s for s, _ in select(None, None, 1234, long=True)}
    pos = [(i, m, lab) for i, m, lab in rows if len(lab) == 1]
    ctl = [(i, m, lab) for i, m, lab in rows if len(lab) == 4]
    assert pos and ctl and len(ctl) % 3 == 0
    for i, m, lab in pos:
        s = whole[i]
        assert s.signal is not None and lab == {s.concept: s.label}
        assert m == list(s.messages[:s.signal[1]])        # the passage is the newest part
    for i, m, _ in ctl:
        s = whole[i.rsplit("-at", 1)[0]]
        assert m == list(s.messages[:len(m)]) and len(m) < len(s.messages)
        assert s.messages[len(m)][0] == "user"           # cut just before the next user message
    assert sum(1 for i, _, _ in ctl if i.endswith("-at50")) == len(ctl) // 3
