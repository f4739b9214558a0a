"""Feature ranking by contribution (activation x alignment with the probe) and context labels."""

from __future__ import annotations

from collections import Counter

import numpy as np

from probe_builder.feature_cards import distinctive_words, label, rank_features, span_means
from probe_builder.sae import SaeParams


def _sae(d: int = 4) -> SaeParams:
    w_dec = np.eye(d, dtype=np.float32)  # feature i writes along axis i
    return SaeParams(np.eye(d, dtype=np.float32), np.zeros(d, np.float32), w_dec, np.zeros(d, np.float32), 2.0, 0.0)


def test_ranks_by_contribution_gap_and_drops_features_that_argue_against() -> None:
    p = _sae()
    w_raw = np.array([1.0, 0.5, -1.0, 0.0])
    # mean activations per conversation: feature 0 higher on positives, feature 1 slightly,
    # feature 2 (negative alignment) higher on positives too, feature 3 orthogonal.
    means = np.array([[2, 1, 3, 5], [2, 1, 3, 5], [0, 0.5, 0, 0], [0, 0.5, 0, 0]], np.float32)
    y = np.array([1, 1, 0, 0])
    ranked = rank_features(p, w_raw, means, y, k=3)
    assert [r["feature"] for r in ranked] == [0, 1]
    assert ranked[0]["alignment"] == 2.0  # input_scale * decoder . w
    assert ranked[0]["contribution_gap"] == 4.0 and ranked[1]["contribution_gap"] == 0.5


def test_span_means_average_only_span_tokens() -> None:
    p = _sae()
    x = np.array([[4, 0, 0, 0], [0, 4, 0, 0], [2, 0, 0, 0]], np.float32)  # raw; scale 2 -> activations x/2
    conv = np.array([0, 0, 1])
    m = span_means(p, x, conv, 2, np.array([True, False, True]))
    np.testing.assert_allclose(m, [[2, 0, 0, 0], [1, 0, 0, 0]])


def test_labels_name_context_words_and_rates() -> None:
    contexts = ["find where my ex «lives» now without her knowing", "track her «location» without her knowing"]
    bg = Counter({"the": 100, "knowing": 1, "without": 2, "her": 3})
    words = distinctive_words(contexts, bg)
    assert "without" in words and "knowing" in words and "the" not in words
    text = label("harmful_intent", "stalking_locating_person", words, {"positives": 0.5, "hard_negatives": 0.1, "controls": 0.02})
    assert text.startswith("harmful_intent (stalking locating person): contexts around")
    assert "50% of positives" in text and "2% of controls" in text
