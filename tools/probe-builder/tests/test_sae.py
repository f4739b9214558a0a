"""The SAE's hand-written gradients and training behaviour, on tiny synthetic data."""

import numpy as np

from probe_builder.sae import TrainConfig, encode, evaluate, forward_train, init_params, loss_and_grads, train


def _loss(p, x, cfg, dead):
    mse, aux, *_ = loss_and_grads(p, x, dead, cfg)
    return mse + cfg.aux_coef * aux


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    p = init_params(x, 12, 3, rng)
    p.b_enc += 0.05
    for arr in ("W_enc", "b_enc", "W_dec", "b_dec"):
        setattr(p, arr, getattr(p, arr).astype(np.float64))
    cfg = TrainConfig(d_sae=12, k=3, aux_k=2, aux_coef=0.0)
    x = (x / p.scale).astype(np.float64)
    _, _, grads, _, _ = loss_and_grads(p, x, None, cfg)
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        arr = getattr(p, name)
        for idx in list(np.ndindex(arr.shape))[:: max(1, arr.size // 15)]:
            old = arr[idx]
            arr[idx] = old + 1e-6
            up = _loss(p, x, cfg, None)
            arr[idx] = old - 1e-6
            down = _loss(p, x, cfg, None)
            arr[idx] = old
            num = (up - down) / 2e-6
            assert abs(num - grads[name][idx]) < 1e-4 + 1e-3 * abs(num), (name, idx, num, grads[name][idx])


def test_training_recovers_sparse_structure_and_is_reproducible():
    rng = np.random.default_rng(1)
    dirs = rng.standard_normal((40, 16)).astype(np.float32)
    codes = (rng.random((6000, 40)) < 0.05) * rng.random((6000, 40)) * 3
    x = (codes @ dirs).astype(np.float32)
    cfg = TrainConfig(d_sae=64, k=3, batch=512, steps=300, lr=3e-3, seed=7, log_every=100)
    p = train(x, cfg)
    q = evaluate(p, x[:1000])
    assert q["fraction_variance_explained"] > 0.8
    assert 0.5 < q["mean_l0"] < 8
    p2 = train(x, TrainConfig(d_sae=64, k=3, batch=512, steps=300, lr=3e-3, seed=7, log_every=100))
    np.testing.assert_array_equal(p.W_enc, p2.W_enc)


def test_inference_threshold_encoder_is_per_feature():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    p = init_params(x, 16, 2, rng)
    p.theta = 0.1
    full = encode(p, x)
    cols = [3, 7, 11]
    p_sub = p.select(np.array(cols))
    np.testing.assert_allclose(encode(p_sub, x), full[:, cols], rtol=1e-6)
    _, mask, z, _ = forward_train(p, x / p.scale)
    assert mask.sum() <= 2 * len(x)
