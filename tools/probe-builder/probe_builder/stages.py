"""Build stages with on-disk caching under the work directory, so a rerun resumes."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from .chat import ChatTokenizer, Encoded
from .convert import convert
from .corpus import apply_splits, composition, labeled_set, save_jsonl
from .harvest import Harvest, harvest, session

SWEEP_LAYERS = [3, 6, 9, 12, 15, 18]
MAX_TOKENS = 512


class Work:
    def __init__(self, root: Path, seed: int, model: str = "smollm2-135m") -> None:
        self.root = root
        self.seed = seed
        self.model = model
        self.cache = root / "cache"
        self.models = root / "model"
        self.sweep_onnx = self.models / "sweep.onnx"
        self.layers = SWEEP_LAYERS
        root.mkdir(parents=True, exist_ok=True)

    def chat_tokenizer(self) -> ChatTokenizer:
        cfg = json.loads((self.models / "tokenizer_config.json").read_text())
        return ChatTokenizer(str(self.models / "tokenizer.json"), cfg["chat_template"], cfg["bos_token"], cfg["eos_token"])


def _save_harvest(path: Path, h: Harvest) -> None:
    np.savez(path, conv=h.conv, role=h.role, token=h.token, pos=h.pos, **{f"L{l}": a for l, a in h.acts.items()})


class _LazyLayers(dict):
    """layer -> activations, each read from the .npz when first asked for (a build reads one or two
    of the harvested layers; all of them at once would take gigabytes it needs elsewhere)."""

    def __init__(self, z) -> None:
        super().__init__()
        self._z = z
        self._names = {int(k[1:]): k for k in z.files if k.startswith("L")}

    def __missing__(self, layer: int) -> np.ndarray:
        self[layer] = a = self._z[self._names[layer]]
        return a

    def __contains__(self, layer: object) -> bool:
        return layer in self._names

    def keys(self):  # type: ignore[override]
        return self._names.keys()

    def items(self):  # type: ignore[override]
        return ((l, self[l]) for l in self._names)


def load_harvest(path: Path) -> Harvest:
    z = np.load(path)
    return Harvest(_LazyLayers(z), z["conv"], z["role"], z["token"], z["pos"])


def stage_convert(w: Work, layers: list[int]) -> dict:
    name = "sweep.onnx" if layers == SWEEP_LAYERS else f"sweep-{'-'.join(map(str, layers))}.onnx"
    info = convert(w.models, w.cache, layers, name=name, model=w.model, kv_cache=False)  # harvests read whole conversations in one pass
    w.sweep_onnx = w.models / name
    return info


def stage_labeled(w: Work):
    out = w.root / "labeled.pkl"
    if out.exists():
        # Splits are recomputed (cheap, deterministic) so a change of split policy needs no re-harvest.
        convs, enc, prov, _ = pickle.loads(out.read_bytes())
        apply_splits(convs, w.seed)
        return convs, enc, prov, composition(convs)
    convs, prov, summary = labeled_set(w.cache, w.seed)
    ct = w.chat_tokenizer()
    enc = [ct.encode(c.messages) for c in convs]
    save_jsonl(w.root / "labeled.jsonl", convs)
    res = (convs, enc, prov, summary)
    out.write_bytes(pickle.dumps(res))
    return res


def stage_harvest_labeled(w: Work, enc: list[Encoded]) -> Harvest:
    suffix = "" if w.layers == SWEEP_LAYERS else "_" + "-".join(map(str, w.layers))
    out = w.root / f"harvest_labeled{suffix}.npz"
    if out.exists():
        return load_harvest(out)
    sess = session(str(w.sweep_onnx))
    h = harvest(sess, enc, w.layers, MAX_TOKENS, label="labeled set")
    _save_harvest(out, h)
    return h
