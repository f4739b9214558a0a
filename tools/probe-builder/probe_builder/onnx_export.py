"""Build an ONNX graph that runs a Llama model up to chosen layers and returns the residual stream.

Contract of the exported graph (consumed by the Node runtime and the builder alike):
  inputs   input_ids      int64 [batch, seq]
           attention_mask int64 [batch, seq]   1 = real token, 0 = padding (right padding only)
  outputs  hidden_<L>     float32 [batch, seq, d_model] for each requested L, where hidden_<L>
           is the residual stream after L transformer blocks (hidden_0 = token embeddings),
           i.e. Hugging Face's `hidden_states[L]`.

Only standard ONNX operators (opset 17) are used so any ONNX Runtime execution provider can
run it. RoPE uses the Hugging Face "rotate half" convention on un-permuted Q/K weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .gguf_model import GgufModel, LlamaConfig, unpermute_qk

OPSET = 17
MAX_POSITIONS = 4096


class _Graph:
    """Tiny helper that names nodes and collects initializers."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], base: str | None = None, **attrs: object) -> str:
        out = self.name(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


def rope_tables(cfg: LlamaConfig, max_positions: int = MAX_POSITIONS) -> tuple[np.ndarray, np.ndarray]:
    hd = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    freqs = np.outer(np.arange(max_positions, dtype=np.float64), inv_freq)  # [P, hd/2]
    emb = np.concatenate([freqs, freqs], axis=-1)  # [P, hd]
    return np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)


def _rms_norm(g: _Graph, x: str, weight: str, eps: str) -> str:
    sq = g.op("Mul", [x, x], "sq")
    mean = g.op("ReduceMean", [sq], "ms", axes=[-1], keepdims=1)
    std = g.op("Sqrt", [g.op("Add", [mean, eps], "mse")], "std")
    return g.op("Mul", [g.op("Div", [x, std], "normed"), weight], "rms")


def _rope(g: _Graph, x: str, cos: str, sin: str, half: str) -> str:
    """x: [B, H, T, hd]; cos/sin: [T, hd]. HF rotate_half convention."""
    x1 = g.op("Slice", [x, "c_zero1", half, "c_minus1"], "x1")
    x2 = g.op("Slice", [x, half, "c_bigint", "c_minus1"], "x2")
    rot = g.op("Concat", [g.op("Neg", [x2], "negx2"), x1], "rot", axis=-1)
    return g.op("Add", [g.op("Mul", [x, cos], "xcos"), g.op("Mul", [rot, sin], "rsin")], "roped")


def build_graph(
    model: GgufModel,
    layers: Sequence[int],
    progress: Callable[[int, int, str], None] | None = None,
    start_layer: int = 0,
    logits: bool = False,
) -> onnx.ModelProto:
    """Blocks start_layer..max(layers). With start_layer > 0 the graph reads `hidden_in`
    [batch, seq, d_model] (the residual after start_layer blocks) instead of input_ids; with
    logits=True it also applies the final norm and the tied LM head (output `logits`)."""
    cfg = model.config
    if not layers or min(layers) < start_layer or max(layers) > cfg.n_layers:
        raise ValueError(f"layers must be within {start_layer}..{cfg.n_layers}, got {list(layers)}")
    n_blocks = max(layers)
    hd, H, KV, D = cfg.head_dim, cfg.n_heads, cfg.n_kv_heads, cfg.d_model
    rep = H // KV
    g = _Graph()
    total = n_blocks + 1

    def tick(i: int, what: str) -> None:
        if progress:
            progress(i, total, what)

    g.const("c_zero1", np.array([0], dtype=np.int64))
    g.const("c_one1", np.array([1], dtype=np.int64))
    g.const("c_minus1", np.array([-1], dtype=np.int64))
    g.const("c_bigint", np.array([1 << 30], dtype=np.int64))
    half = g.const("c_half", np.array([hd // 2], dtype=np.int64))
    eps = g.const("c_eps", np.array(cfg.rms_eps, dtype=np.float32))
    scale = g.const("c_scale", np.array(1.0 / np.sqrt(hd), dtype=np.float32))
    neg_big = g.const("c_negbig", np.array(-1e9, dtype=np.float32))
    one_f = g.const("c_onef", np.array(1.0, dtype=np.float32))
    cos_t, sin_t = rope_tables(cfg)
    g.const("rope_cos", cos_t)
    g.const("rope_sin", sin_t)

    tick(0, "embeddings")
    emb_w = model.tensor("token_embd.weight")
    if start_layer == 0:
        emb = g.const("token_embd", emb_w)
        h = g.op("Gather", [emb, "input_ids"], "embed", axis=0)  # [B,T,D]
    else:
        h = "hidden_in"

    # Shapes and position-dependent tables, sliced to the actual sequence length.
    ids_shape = g.op("Shape", ["attention_mask"], "ids_shape")
    seq_len = g.op("Slice", [ids_shape, "c_one1", g.const("c_two1", np.array([2], dtype=np.int64))], "seq_len")
    cos = g.op("Slice", ["rope_cos", "c_zero1", seq_len, "c_zero1"], "cos")  # [T, hd]
    sin = g.op("Slice", ["rope_sin", "c_zero1", seq_len, "c_zero1"], "sin")
    # Causal mask built from positions: key j is hidden from query i when j > i.
    t_scalar = g.op("Squeeze", [seq_len, "c_zero1"], "t_scalar")
    pos = g.op("Range", [g.const("c_zero0", np.array(0, dtype=np.int64)), t_scalar, g.const("c_one0", np.array(1, dtype=np.int64))], "pos")
    q_pos = g.op("Unsqueeze", [pos, "c_one1"], "q_pos")  # [T,1]
    k_pos = g.op("Unsqueeze", [pos, "c_zero1"], "k_pos")  # [1,T]
    future = g.op("Greater", [k_pos, q_pos], "future")
    causal_tt = g.op("Where", [future, neg_big, g.const("c_zerof", np.array(0.0, dtype=np.float32))], "causal_tt")
    maskf = g.op("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)  # [B,T]
    pad_pen = g.op("Mul", [g.op("Sub", [one_f, maskf], "inv"), neg_big], "pad_pen")
    pad_pen = g.op("Unsqueeze", [pad_pen, g.const("c_ax12", np.array([1, 2], dtype=np.int64))], "pad4")
    bias = g.op("Add", [pad_pen, causal_tt], "attn_bias")  # [B,1,T,T]

    shape_bthd = g.const("shape_q", np.array([0, 0, H, hd], dtype=np.int64))
    shape_bkvhd = g.const("shape_kv", np.array([0, 0, KV, hd], dtype=np.int64))
    shape_btd = g.const("shape_btd", np.array([0, 0, D], dtype=np.int64))
    outputs: list[onnx.ValueInfoProto] = []
    out_names: dict[int, str] = {}
    if start_layer in layers:
        out_names[start_layer] = h

    for i in range(start_layer, n_blocks):
        tick(i + 1, f"block {i}")
        p = f"blk.{i}."
        wq = unpermute_qk(model.tensor(p + "attn_q.weight"), H)
        wk = unpermute_qk(model.tensor(p + "attn_k.weight"), KV)
        wv = model.tensor(p + "attn_v.weight")
        wo = model.tensor(p + "attn_output.weight")
        x = _rms_norm(g, h, g.const(p + "attn_norm", model.tensor(p + "attn_norm.weight").reshape(-1)), eps)
        q = g.op("MatMul", [x, g.const(p + "wq", wq.T.copy())], "q")
        k = g.op("MatMul", [x, g.const(p + "wk", wk.T.copy())], "k")
        v = g.op("MatMul", [x, g.const(p + "wv", wv.T.copy())], "v")
        q = g.op("Transpose", [g.op("Reshape", [q, shape_bthd], "q4")], "qt", perm=[0, 2, 1, 3])  # [B,H,T,hd]
        k = g.op("Transpose", [g.op("Reshape", [k, shape_bkvhd], "k4")], "kt", perm=[0, 2, 1, 3])  # [B,KV,T,hd]
        v = g.op("Transpose", [g.op("Reshape", [v, shape_bkvhd], "v4")], "vt", perm=[0, 2, 1, 3])
        q = _rope(g, q, cos, sin, half)
        k = _rope(g, k, cos, sin, half)
        if rep > 1:  # grouped-query attention: query head j reads kv head j // rep
            k, v = (_repeat_kv(g, t, KV, rep, hd) for t in (k, v))
        kT = g.op("Transpose", [k], "kT", perm=[0, 1, 3, 2])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, kT], "qk"), scale], "qks"), bias], "scores")
        probs = g.op("Softmax", [scores], "probs", axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v], "ctx")], "ctxt", perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, shape_btd], "ctx3")
        h = g.op("Add", [h, g.op("MatMul", [ctx, g.const(p + "wo", wo.T.copy())], "attn_out")], "resid_mid")

        x = _rms_norm(g, h, g.const(p + "ffn_norm", model.tensor(p + "ffn_norm.weight").reshape(-1)), eps)
        gate = g.op("MatMul", [x, g.const(p + "wgate", model.tensor(p + "ffn_gate.weight").T.copy())], "gate")
        up = g.op("MatMul", [x, g.const(p + "wup", model.tensor(p + "ffn_up.weight").T.copy())], "up")
        act = g.op("Mul", [gate, g.op("Sigmoid", [gate], "sig")], "silu")
        wdown = g.const(p + "wdown", model.tensor(p + "ffn_down.weight").T.copy())
        down = g.op("MatMul", [g.op("Mul", [act, up], "gated"), wdown], "down")
        h = g.op("Add", [h, down], "resid")
        if (i + 1) in layers:
            out_names[i + 1] = h

    for layer in sorted(set(layers)):
        name = f"hidden_{layer}"
        g.nodes.append(helper.make_node("Identity", [out_names[layer]], [name], name=f"out_{layer}"))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "seq", D]))

    if logits:
        normed = _rms_norm(g, h, g.const("output_norm", model.tensor("output_norm.weight").reshape(-1)), eps)
        lm = g.op("MatMul", [normed, g.const("lm_head", emb_w.T.copy())], "lm")
        g.nodes.append(helper.make_node("Identity", [lm], ["logits"], name="out_logits"))
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", cfg.vocab_size]))
    first = (helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]) if start_layer == 0
             else helper.make_tensor_value_info("hidden_in", TensorProto.FLOAT, ["batch", "seq", D]))
    inputs = [first, helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])]
    graph = helper.make_graph(g.nodes, "llama_residual", inputs, outputs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="probe-builder")
    m.ir_version = 8
    m.metadata_props.extend(
        [
            onnx.StringStringEntryProto(key="source_sha256", value=model.sha256),
            onnx.StringStringEntryProto(key="layers", value=",".join(str(x) for x in sorted(set(layers)))),
            onnx.StringStringEntryProto(key="max_positions", value=str(MAX_POSITIONS)),
        ]
    )
    tick(total, "done")
    return m


def _repeat_kv(g: _Graph, t: str, kv: int, rep: int, hd: int) -> str:
    """[B,KV,T,hd] -> [B,KV*rep,T,hd] with head j = kv j // rep."""
    t5 = g.op("Unsqueeze", [t, g.const(g.name("ax2"), np.array([2], dtype=np.int64))], "kv5")
    shp = g.op("Shape", [t5], "kvshape")
    target = g.op(
        "Concat",
        [
            g.op("Slice", [shp, "c_zero1", g.const(g.name("i2"), np.array([2], dtype=np.int64))], "s01"),
            g.const(g.name("rep"), np.array([rep], dtype=np.int64)),
            g.op("Slice", [shp, g.const(g.name("i3"), np.array([3], dtype=np.int64)), "c_bigint"], "s34"),
        ],
        "kvtarget",
        axis=0,
    )
    expanded = g.op("Expand", [t5, target], "kvexp")
    return g.op("Reshape", [expanded, g.const(g.name("kvflat"), np.array([0, kv * rep, -1, hd], dtype=np.int64))], "kvrep")


def export(model: GgufModel, layers: Sequence[int], out_path: Path, progress: Callable[[int, int, str], None] | None = None,
           start_layer: int = 0, logits: bool = False) -> Path:
    m = build_graph(model, layers, progress, start_layer, logits)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".onnx.tmp")
    onnx.save_model(m, str(tmp))
    tmp.replace(out_path)
    return out_path
