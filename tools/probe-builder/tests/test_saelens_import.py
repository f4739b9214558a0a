"""Importing an SAE in the SAELens layout (synthetic, written here with safetensors)."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from probe_builder.sae import encode
from probe_builder.saelens import SaeImportError, hook_to_layer, import_saelens, load_saelens


def _write(dirpath, arch="jumprelu", apply_b_dec=False, d_in=12, d_sae=20, seed=0):
    rng = np.random.default_rng(seed)
    t = {"W_enc": rng.standard_normal((d_in, d_sae)).astype(np.float32), "b_enc": rng.standard_normal(d_sae).astype(np.float32),
         "W_dec": rng.standard_normal((d_sae, d_in)).astype(np.float32), "b_dec": rng.standard_normal(d_in).astype(np.float32)}
    if arch == "jumprelu":
        t["threshold"] = np.abs(rng.standard_normal(d_sae)).astype(np.float32)
    dirpath.mkdir(parents=True, exist_ok=True)
    save_file(t, str(dirpath / "sae_weights.safetensors"))
    (dirpath / "cfg.json").write_text(json.dumps({"architecture": arch, "d_in": d_in, "d_sae": d_sae, "hook_name": "blocks.5.hook_resid_post",
                                                  "model_name": "tiny", "apply_b_dec_to_input": apply_b_dec, "normalize_activations": "none"}))
    return t


def _saelens_encode(t, x, apply_b_dec):
    xin = x - t["b_dec"] if apply_b_dec else x
    pre = xin @ t["W_enc"] + t["b_enc"]
    thr = t.get("threshold", np.zeros_like(t["b_enc"]))
    return np.where(pre > thr, pre, 0) if "threshold" in t else np.maximum(pre, 0)


@pytest.mark.parametrize("arch,apply_b_dec", [("jumprelu", False), ("standard", True), ("standard", False)])
def test_imported_encoder_matches_saelens_semantics(tmp_path, arch, apply_b_dec):
    t = _write(tmp_path / "sae", arch, apply_b_dec)
    p, info = load_saelens(tmp_path / "sae")
    assert info["layer"] == 6 and info["architecture"] == arch
    x = np.random.default_rng(1).standard_normal((50, 12)).astype(np.float32)
    np.testing.assert_allclose(encode(p, x), _saelens_encode(t, x, apply_b_dec), rtol=1e-4, atol=1e-4)


def test_import_writes_selected_rows(tmp_path):
    t = _write(tmp_path / "sae")
    section = import_saelens(tmp_path / "sae", [3, 17], tmp_path / "pack")
    enc = np.frombuffer((tmp_path / "pack" / "weights" / "sae-encoder.f32").read_bytes(), dtype="<f4").reshape(2, 12)
    np.testing.assert_allclose(enc, t["W_enc"][:, [3, 17]].T, rtol=1e-6)
    thr = np.frombuffer((tmp_path / "pack" / "weights" / "sae-threshold.f32").read_bytes(), dtype="<f4")
    np.testing.assert_allclose(thr, t["threshold"][[3, 17]])
    assert section["features"] == [{"index": 3, "row": 0}, {"index": 17, "row": 1}]


def test_topk_and_bad_inputs_are_refused_clearly(tmp_path):
    _write(tmp_path / "topk", arch="topk")
    with pytest.raises(SaeImportError, match="TopK"):
        load_saelens(tmp_path / "topk")
    with pytest.raises(SaeImportError, match="cfg.json"):
        load_saelens(tmp_path)
    _write(tmp_path / "ok")
    with pytest.raises(SaeImportError, match="out of range"):
        import_saelens(tmp_path / "ok", [99], tmp_path / "out")
    assert hook_to_layer("blocks.0.hook_resid_pre") == 0
    with pytest.raises(SaeImportError):
        hook_to_layer("blocks.3.hook_mlp_out")


def test_build_can_use_an_imported_sae_in_place_of_training(tmp_path):
    from probe_builder.build import imported_sae

    _write(tmp_path / "sae", "jumprelu", False, d_in=12, d_sae=20)
    acts = np.random.default_rng(3).standard_normal((400, 12)).astype(np.float16)
    p, info = imported_sae(tmp_path / "sae", acts, seed=1)
    assert p.d_sae == 20 and p.thresholds().shape == (20,)
    q = info["quality"]
    assert set(q) >= {"fraction_variance_explained", "mean_l0", "dead_fraction", "tokens"}
    assert info["corpus"]["architecture"] == "jumprelu" and info["corpus"]["layer"] == 6
