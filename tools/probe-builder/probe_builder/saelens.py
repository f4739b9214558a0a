"""Import a sparse autoencoder saved in the SAELens layout (cfg.json + sae_weights.safetensors).

Supported architectures are those whose features can be computed independently, which is what
a probe pack needs to ship only selected encoder rows: "standard" (ReLU) and "jumprelu"
(per-feature threshold, e.g. Gemma Scope). TopK SAEs need every feature to rank them and are
refused with an explanation. `apply_b_dec_to_input: false` is folded into the encoder bias:
x @ W + b == (x - b_dec) @ W + (b + b_dec @ W).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .sae import SaeParams

WEIGHT_FILES = ("sae_weights.safetensors", "model.safetensors")


class SaeImportError(ValueError):
    pass


def hook_to_layer(hook: str) -> int:
    """SAELens hook name -> probewatch layer (number of blocks applied)."""
    m = re.fullmatch(r"blocks\.(\d+)\.hook_resid_(pre|post)", hook)
    if not m:
        raise SaeImportError(f"hook {hook!r} is not a residual-stream hook (blocks.N.hook_resid_pre|post)")
    n = int(m.group(1))
    return n if m.group(2) == "pre" else n + 1


def load_saelens(sae_dir: Path) -> tuple[SaeParams, dict]:
    from safetensors.numpy import load_file

    cfg_path = sae_dir / "cfg.json"
    if not cfg_path.exists():
        raise SaeImportError(f"{sae_dir}: no cfg.json (not an SAELens directory)")
    cfg = json.loads(cfg_path.read_text())
    weights_path = next((sae_dir / f for f in WEIGHT_FILES if (sae_dir / f).exists()), None)
    if weights_path is None:
        raise SaeImportError(f"{sae_dir}: none of {', '.join(WEIGHT_FILES)} found")
    t = load_file(str(weights_path))
    missing = [k for k in ("W_enc", "b_enc", "W_dec", "b_dec") if k not in t]
    if missing:
        raise SaeImportError(f"{weights_path.name}: missing tensors {missing}")
    arch = str(cfg.get("architecture", "standard")).lower()
    d_in, d_sae = int(cfg["d_in"]), int(cfg["d_sae"])
    W_enc, b_enc, W_dec, b_dec = (t[k].astype(np.float32) for k in ("W_enc", "b_enc", "W_dec", "b_dec"))
    if W_enc.shape != (d_in, d_sae) or W_dec.shape != (d_sae, d_in):
        raise SaeImportError(f"shapes W_enc {W_enc.shape} / W_dec {W_dec.shape} do not match d_in={d_in}, d_sae={d_sae}")
    if arch == "jumprelu":
        if "threshold" not in t:
            raise SaeImportError("jumprelu SAE without a 'threshold' tensor")
        theta: float | np.ndarray = t["threshold"].astype(np.float32)
    elif arch == "standard":
        theta = 0.0
    else:
        raise SaeImportError(f"architecture {arch!r} is not supported: probe packs need features computable one by one "
                             "(standard ReLU or JumpReLU); TopK ranks all features per token")
    if not cfg.get("apply_b_dec_to_input", True):
        b_enc = b_enc + b_dec @ W_enc
    if cfg.get("normalize_activations") not in (None, "none"):
        raise SaeImportError(f"normalize_activations={cfg['normalize_activations']!r} is not supported (only 'none')")
    params = SaeParams(W_enc, b_enc, W_dec, b_dec, 1.0, theta, 0)
    info = {"architecture": arch, "d_in": d_in, "d_sae": d_sae, "layer": hook_to_layer(str(cfg["hook_name"])),
            "model_name": cfg.get("model_name"), "hook_name": cfg["hook_name"]}
    return params, info


def import_saelens(sae_dir: Path, features: list[int], out_dir: Path) -> dict:
    """Write the selected features' encoder rows, biases, thresholds and the SAE section of a manifest."""
    from .pack import _write_f32

    p, info = load_saelens(sae_dir)
    bad = [f for f in features if not 0 <= f < p.d_sae]
    if bad:
        raise SaeImportError(f"feature indices out of range 0..{p.d_sae - 1}: {bad}")
    sub = p.select(np.array(features))
    weights = {
        "sae-encoder": _write_f32(out_dir / "weights" / "sae-encoder.f32", sub.W_enc.T),
        "sae-bias": _write_f32(out_dir / "weights" / "sae-bias.f32", sub.b_enc),
        "sae-threshold": _write_f32(out_dir / "weights" / "sae-threshold.f32", sub.thresholds()),
        "b-dec": _write_f32(out_dir / "weights" / "b-dec.f32", p.b_dec),
    }
    section = {"sae": {**info, "input_scale": 1.0, "source": str(sae_dir)}, "features": [{"index": f, "row": i} for i, f in enumerate(features)],
               "weights": weights}
    (out_dir / "sae-import.json").write_text(json.dumps(section, indent=1))
    return section
