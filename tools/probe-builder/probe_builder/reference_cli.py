"""Reference outputs for the Node parity test: token ids, roles and float64 residuals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .chat import ChatTokenizer
from .gguf_model import load_gguf
from .reference import make_reference


def run_reference(model_dir: Path, layer: int, input_path: Path, out_path: Path) -> None:
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    ct = ChatTokenizer(str(model_dir / "tokenizer.json"), cfg["chat_template"], cfg["bos_token"], cfg["eos_token"])
    model = load_gguf(next(model_dir.glob("*.gguf")))
    ref = make_reference(model, layer)
    out = []
    for line in input_path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        enc = ct.encode(row["messages"])
        hidden = ref.hidden_states([int(t) for t in enc.ids])[layer]
        out.append({"id": row["id"], "ids": enc.ids.tolist(), "roles": enc.roles.tolist(),
                    "hidden": np.asarray(hidden, dtype=np.float64).round(5).tolist()})
    out_path.write_text(json.dumps(out))
