import numpy as np

from probe_builder.aggregate import aggregate, scope_mask
from probe_builder.chat import ROLE_CODE


def test_aggregate_matches_naive_groupby_across_chunks():
    rng = np.random.default_rng(0)
    conv = rng.integers(0, 50, 3000)
    conv[conv == 7] = 8  # conversation 7 has no rows
    x = rng.standard_normal((3000, 5)).astype(np.float32)
    for want_max in (True, False):
        mx, mean = aggregate(x, conv, 50, lambda v: np.maximum(v, 0), want_max=want_max, chunk_tokens=97)
        for c in range(50):
            rows = np.maximum(x[conv == c], 0)
            if len(rows) == 0:
                assert not mean[c].any()
                continue
            np.testing.assert_allclose(mean[c], rows.mean(0), rtol=1e-5)
            if want_max:
                np.testing.assert_allclose(mx[c], rows.max(0), rtol=1e-6)


def test_scope_mask_keeps_concept_roles_and_drops_outliers():
    roles = np.array([ROLE_CODE[r] for r in ("template", "user", "assistant", "tool", "user")])
    norms = np.array([1.0, 1.0, 1.0, 1.0, 1e6])
    assert scope_mask(roles, norms, "prompt_injection", 100.0).tolist() == [False, True, False, True, False]
    assert scope_mask(roles, norms, "deception", 100.0).tolist() == [False, False, True, False, False]
