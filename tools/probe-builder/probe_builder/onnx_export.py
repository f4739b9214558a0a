"""Build an ONNX graph that runs a Llama model up to chosen layers and returns the residual stream.

Contract of the exported graph (consumed by the Node runtime and the builder alike):
  inputs   input_ids      int64 [batch, seq]
           attention_mask int64 [batch, seq]   1 = real token, 0 = padding (right padding only)
  outputs  hidden_<L>     float32 [batch, seq, d_model] for each requested L, where hidden_<L>
           is the residual stream after L transformer blocks (hidden_0 = token embeddings),
           i.e. Hugging Face's `hidden_states[L]`.

Only standard ONNX operators (opset 17) are used so any ONNX Runtime execution provider can
run it. RoPE uses the Hugging Face "rotate half" convention on un-permuted Q/K weights.

Gemma 3 (`build_gemma3_graph`, chosen by `build_graph` from the GGUF architecture) follows the
same contract. hidden_0 is the *scaled* embedding (token_embd * sqrt(d_model)), as in HF.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .gguf_model import Gemma3Config, GgufModel, LlamaConfig, unpermute_qk

OPSET = 17
MAX_POSITIONS = 8192  # SmolLM2's context length


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
    kv_cache: bool = False,
) -> onnx.ModelProto:
    """Blocks start_layer..max(layers). With start_layer > 0 the graph reads `hidden_in`
    [batch, seq, d_model] (the residual after start_layer blocks) instead of input_ids; with
    logits=True it also applies the final norm and the tied LM head (output `logits`).

    kv_cache=True adds chunked prefill: inputs past_key_<i> / past_value_<i> [batch, kv_heads,
    past, head_dim] for every block i, outputs present_key_<i> / present_value_<i> (past and this
    chunk's keys/values concatenated), and attention_mask then covers past + seq tokens. The
    chunk's tokens sit at positions past..past+seq-1 and attend to every earlier token, so a
    conversation fed chunk by chunk gets the residuals a single pass would give. An empty past
    (past = 0) is the plain single pass."""
    cfg = model.config
    if not layers or min(layers) < start_layer or max(layers) > cfg.n_layers:
        raise ValueError(f"layers must be within {start_layer}..{cfg.n_layers}, got {list(layers)}")
    if kv_cache and (start_layer or logits):
        raise ValueError("kv_cache graphs start at the embeddings and return residuals only")
    if isinstance(cfg, Gemma3Config):
        return build_gemma3_graph(model, layers, progress, start_layer, logits, kv_cache)
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

    # Shapes and position-dependent tables, sliced to the actual sequence length. With a KV cache
    # the chunk's queries sit after `past` cached positions; keys span past + seq.
    c_two1 = g.const("c_two1", np.array([2], dtype=np.int64))
    mask_shape = g.op("Shape", ["attention_mask"], "ids_shape")
    total_len = g.op("Slice", [mask_shape, "c_one1", c_two1], "total_len")  # past + seq
    if kv_cache:
        c_three1 = g.const("c_three1", np.array([3], dtype=np.int64))
        past_len = g.op("Slice", [g.op("Shape", ["past_key_0"], "past_shape"), c_two1, c_three1], "past_len")
    else:
        past_len = "c_zero1"
    cos = g.op("Slice", ["rope_cos", past_len, total_len, "c_zero1"], "cos")  # [T, hd]
    sin = g.op("Slice", ["rope_sin", past_len, total_len, "c_zero1"], "sin")
    # Causal mask built from positions: key j is hidden from query i when j > i.
    zero0 = g.const("c_zero0", np.array(0, dtype=np.int64))
    one0 = g.const("c_one0", np.array(1, dtype=np.int64))
    past0 = g.op("Squeeze", [past_len, "c_zero1"], "past0")
    total0 = g.op("Squeeze", [total_len, "c_zero1"], "t_scalar")
    q_pos = g.op("Unsqueeze", [g.op("Range", [past0, total0, one0], "qpos"), "c_one1"], "q_pos")  # [T,1]
    k_pos = g.op("Unsqueeze", [g.op("Range", [zero0, total0, one0], "kpos"), "c_zero1"], "k_pos")  # [1,P+T]
    future = g.op("Greater", [k_pos, q_pos], "future")
    causal_tt = g.op("Where", [future, neg_big, g.const("c_zerof", np.array(0.0, dtype=np.float32))], "causal_tt")
    maskf = g.op("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)  # [B,P+T]
    pad_pen = g.op("Mul", [g.op("Sub", [one_f, maskf], "inv"), neg_big], "pad_pen")
    pad_pen = g.op("Unsqueeze", [pad_pen, g.const("c_ax12", np.array([1, 2], dtype=np.int64))], "pad4")
    bias = g.op("Add", [pad_pen, causal_tt], "attn_bias")  # [B,1,T,P+T]
    kv_inputs: list[onnx.ValueInfoProto] = []
    kv_outputs: list[onnx.ValueInfoProto] = []

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
        if kv_cache:
            k, v = _cache_block(g, i, k, v, KV, hd, kv_inputs, kv_outputs)
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

    _hidden_outputs(g, out_names, layers, D, outputs)

    if logits:
        normed = _rms_norm(g, h, g.const("output_norm", model.tensor("output_norm.weight").reshape(-1)), eps)
        lm = g.op("MatMul", [normed, g.const("lm_head", emb_w.T.copy())], "lm")
        g.nodes.append(helper.make_node("Identity", [lm], ["logits"], name="out_logits"))
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", cfg.vocab_size]))
    m = _residual_model(g, "llama_residual", model, layers, start_layer, kv_cache, D, outputs, kv_inputs, kv_outputs)
    tick(total, "done")
    return m


def _hidden_outputs(g: _Graph, out_names: dict[int, str], layers: Sequence[int], D: int, outputs: list[onnx.ValueInfoProto]) -> None:
    """Outputs hidden_<L>, the residual after L blocks, for each requested L."""
    for layer in sorted(set(layers)):
        name = f"hidden_{layer}"
        g.nodes.append(helper.make_node("Identity", [out_names[layer]], [name], name=f"out_{layer}"))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "seq", D]))


def _residual_model(g: _Graph, graph_name: str, model: GgufModel, layers: Sequence[int], start_layer: int, kv_cache: bool, D: int,
                    outputs: list[onnx.ValueInfoProto], kv_inputs: list[onnx.ValueInfoProto], kv_outputs: list[onnx.ValueInfoProto],
                    architecture: str | None = None) -> onnx.ModelProto:
    """The model around a built graph: its first input (input_ids, or hidden_in when the graph
    starts after block 0), the attention mask, the cache inputs and outputs, and the metadata the
    runtime checks (source hash, layers, positions, architecture when not Llama, cache)."""
    first = (helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]) if start_layer == 0
             else helper.make_tensor_value_info("hidden_in", TensorProto.FLOAT, ["batch", "seq", D]))
    inputs = [first, helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "total" if kv_cache else "seq"])]
    graph = helper.make_graph(g.nodes, graph_name, inputs + kv_inputs, outputs + kv_outputs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="probe-builder")
    m.ir_version = 8
    meta = [("source_sha256", model.sha256), ("layers", ",".join(str(x) for x in sorted(set(layers)))), ("max_positions", str(MAX_POSITIONS))]
    meta += [("architecture", architecture)] if architecture else []
    meta += [("kv_cache", "1" if kv_cache else "0")]
    m.metadata_props.extend(onnx.StringStringEntryProto(key=k, value=v) for k, v in meta)
    return m


def _cache_block(g: _Graph, i: int, k: str, v: str, kv: int, hd: int,
                 inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto]) -> tuple[str, str]:
    """Block i's key/value cache ([B, kv, T, hd] keys after RoPE, and values): inputs past_<kind>_<i>,
    outputs present_<kind>_<i> (past and this chunk's concatenated), which attention then reads."""
    for kind, t in (("key", k), ("value", v)):
        inputs.append(helper.make_tensor_value_info(f"past_{kind}_{i}", TensorProto.FLOAT, ["batch", kv, "past", hd]))
        outputs.append(helper.make_tensor_value_info(f"present_{kind}_{i}", TensorProto.FLOAT, ["batch", kv, "total", hd]))
        g.nodes.append(helper.make_node("Concat", [f"past_{kind}_{i}", t], [f"present_{kind}_{i}"], name=f"present_{kind}_{i}", axis=2))
    return f"present_key_{i}", f"present_value_{i}"


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


def _rope_table(theta: float, hd: int, scale: float = 1.0, max_positions: int = MAX_POSITIONS) -> tuple[np.ndarray, np.ndarray]:
    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    freqs = np.outer(np.arange(max_positions, dtype=np.float64) / scale, inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)


def build_gemma3_graph(
    model: GgufModel,
    layers: Sequence[int],
    progress: Callable[[int, int, str], None] | None = None,
    start_layer: int = 0,
    logits: bool = False,
    kv_cache: bool = False,
) -> onnx.ModelProto:
    """Gemma 3 blocks start_layer..max(layers); same inputs/outputs as `build_graph`, including
    its key/value cache for chunked prefill (past/present [batch, kv_heads, tokens, head_dim]
    per block, keys after RoPE; a local layer's window then reaches back into the cache).

    Per block (HF Gemma3DecoderLayer): h += post_attn_norm(attn(attn_norm(h))), then
    h += post_ffw_norm(mlp(ffn_norm(h))). Attention: per-head RMSNorm of q and k (q_norm,
    k_norm) before rotate-half RoPE; scores scaled by query_pre_attn_scalar^-0.5; sliding
    window (key j visible iff 0 <= i - j < window) and RoPE base rope_theta_local on local
    layers, full causal attention and rope_theta (/ linear scale) on global ones; grouped-query
    attention by broadcasting [B, KV, 1, T, hd] keys against [B, KV, rep, T, hd] queries.
    MLP: down(gelu_tanh(gate(x)) * up(x)). GGUF norm weights already hold Gemma's 1 + w.
    """
    cfg = model.config
    assert isinstance(cfg, Gemma3Config)
    n_blocks = max(layers)
    hd, H, KV, D = cfg.head_dim, cfg.n_heads, cfg.n_kv_heads, cfg.d_model
    rep = H // KV
    g = _Graph()
    total = n_blocks + 1

    def tick(i: int, what: str) -> None:
        if progress:
            progress(i, total, what)

    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    g.const("c_zero1", i64(0))
    g.const("c_one1", i64(1))
    g.const("c_minus1", i64(-1))
    g.const("c_bigint", i64(1 << 30))
    half = g.const("c_half", i64(hd // 2))
    eps = g.const("c_eps", np.array(cfg.rms_eps, dtype=np.float32))
    scale = g.const("c_scale", np.array(1.0 / np.sqrt(cfg.query_pre_attn_scalar), dtype=np.float32))
    neg_big = g.const("c_negbig", np.array(-1e9, dtype=np.float32))
    zero_f = g.const("c_zerof", np.array(0.0, dtype=np.float32))
    one_f = g.const("c_onef", np.array(1.0, dtype=np.float32))
    # gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    c_gelu_a = g.const("c_gelu_a", np.array(np.sqrt(2.0 / np.pi), dtype=np.float32))
    c_gelu_b = g.const("c_gelu_b", np.array(0.044715, dtype=np.float32))
    c_halff = g.const("c_halff", np.array(0.5, dtype=np.float32))

    tick(0, "embeddings")
    emb_w = model.tensor("token_embd.weight")
    emb = g.const("token_embd", emb_w)
    if start_layer == 0:
        raw = g.op("Gather", [emb, "input_ids"], "embed", axis=0)  # [B,T,D]
        h = g.op("Mul", [raw, g.const("c_embed_scale", np.array(cfg.embed_scale, dtype=np.float32))], "embed_scaled")
    else:
        h = "hidden_in"

    # The mask covers past + seq tokens; with a cache the chunk's queries sit after `past` of them.
    c_two1 = g.const("c_two1", i64(2))
    total_len = g.op("Slice", [g.op("Shape", ["attention_mask"], "mask_shape"), "c_one1", c_two1], "total_len")
    past_len = (g.op("Slice", [g.op("Shape", ["past_key_0"], "past_shape"), c_two1, g.const("c_three1", i64(3))], "past_len")
                if kv_cache else "c_zero1")
    tables = {}
    for kind, theta, sc in (("local", cfg.rope_theta_local, 1.0), ("global", cfg.rope_theta, cfg.rope_scale_global)):
        cos_t, sin_t = _rope_table(theta, hd, sc)
        tables[kind] = (
            g.op("Slice", [g.const(f"rope_cos_{kind}", cos_t), past_len, total_len, "c_zero1"], f"cos_{kind}"),
            g.op("Slice", [g.const(f"rope_sin_{kind}", sin_t), past_len, total_len, "c_zero1"], f"sin_{kind}"),
        )
    total0 = g.op("Squeeze", [total_len, "c_zero1"], "t_scalar")
    one0 = g.const("c_one0", np.array(1, dtype=np.int64))
    q_pos = g.op("Unsqueeze", [g.op("Range", [g.op("Squeeze", [past_len, "c_zero1"], "past0"), total0, one0], "qpos"), "c_one1"], "q_pos")  # [T,1]
    k_pos = g.op("Unsqueeze", [g.op("Range", [g.const("c_zero0", np.array(0, dtype=np.int64)), total0, one0], "kpos"), "c_zero1"], "k_pos")  # [1,P+T]
    dist = g.op("Sub", [q_pos, k_pos], "dist")  # i - j
    causal = g.op("Where", [g.op("Less", [dist, g.const("c_zero0b", np.array(0, dtype=np.int64))], "future"), neg_big, zero_f], "causal")
    too_far = g.op("Not", [g.op("Less", [dist, g.const("c_window", np.array(cfg.sliding_window, dtype=np.int64))], "in_window")], "too_far")
    local_tt = g.op("Add", [causal, g.op("Where", [too_far, neg_big, zero_f], "window_pen")], "local_tt")
    maskf = g.op("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    pad_pen = g.op("Mul", [g.op("Sub", [one_f, maskf], "inv"), neg_big], "pad_pen")
    pad_pen = g.op("Unsqueeze", [pad_pen, g.const("c_ax123", i64(1, 2, 3))], "pad5")  # [B,1,1,1,T]
    bias = {"global": g.op("Add", [pad_pen, causal], "bias_global"), "local": g.op("Add", [pad_pen, local_tt], "bias_local")}

    shape_q = g.const("shape_q", i64(0, 0, KV, rep, hd))
    shape_kv = g.const("shape_kv", i64(0, 0, KV, hd))
    shape_ctx = g.const("shape_ctx", i64(0, 0, H * hd))
    ax2 = g.const("c_ax2", i64(2))
    out_names: dict[int, str] = {}
    if start_layer in layers:
        out_names[start_layer] = h
    kv_inputs: list[onnx.ValueInfoProto] = []
    kv_outputs: list[onnx.ValueInfoProto] = []

    def vec(name: str) -> str:
        return g.const(name.replace(".weight", ""), model.tensor(name).reshape(-1))

    for i in range(start_layer, n_blocks):
        tick(i + 1, f"block {i}")
        p = f"blk.{i}."
        kind = "local" if cfg.local_layers[i] else "global"
        cos, sin = tables[kind]
        x = _rms_norm(g, h, vec(p + "attn_norm.weight"), eps)
        q = g.op("MatMul", [x, g.const(p + "wq", model.tensor(p + "attn_q.weight").T.copy())], "q")
        k = g.op("MatMul", [x, g.const(p + "wk", model.tensor(p + "attn_k.weight").T.copy())], "k")
        v = g.op("MatMul", [x, g.const(p + "wv", model.tensor(p + "attn_v.weight").T.copy())], "v")
        q = _rms_norm(g, g.op("Reshape", [q, shape_q], "q5"), vec(p + "attn_q_norm.weight"), eps)  # [B,T,KV,rep,hd]
        k = _rms_norm(g, g.op("Reshape", [k, shape_kv], "k4"), vec(p + "attn_k_norm.weight"), eps)  # [B,T,KV,hd]
        v = g.op("Reshape", [v, shape_kv], "v4")
        q = _rope(g, g.op("Transpose", [q], "qt", perm=[0, 2, 3, 1, 4]), cos, sin, half)  # [B,KV,rep,T,hd]
        k = _rope(g, g.op("Transpose", [k], "kt", perm=[0, 2, 1, 3]), cos, sin, half)  # [B,KV,T,hd]
        v = g.op("Transpose", [v], "vt", perm=[0, 2, 1, 3])
        if kv_cache:
            k, v = _cache_block(g, i, k, v, KV, hd, kv_inputs, kv_outputs)
        k = g.op("Unsqueeze", [k, ax2], "k5")  # [B,KV,1,P+T,hd]
        v = g.op("Unsqueeze", [v, ax2], "v5")
        kT = g.op("Transpose", [k], "kT", perm=[0, 1, 2, 4, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, kT], "qk"), scale], "qks"), bias[kind]], "scores")
        probs = g.op("Softmax", [scores], "probs", axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v], "ctx")], "ctxt", perm=[0, 3, 1, 2, 4])  # [B,T,KV,rep,hd]
        ctx = g.op("Reshape", [ctx, shape_ctx], "ctx3")
        attn = g.op("MatMul", [ctx, g.const(p + "wo", model.tensor(p + "attn_output.weight").T.copy())], "attn_out")
        h = g.op("Add", [h, _rms_norm(g, attn, vec(p + "post_attention_norm.weight"), eps)], "resid_mid")

        x = _rms_norm(g, h, vec(p + "ffn_norm.weight"), eps)
        gate = g.op("MatMul", [x, g.const(p + "wgate", model.tensor(p + "ffn_gate.weight").T.copy())], "gate")
        up = g.op("MatMul", [x, g.const(p + "wup", model.tensor(p + "ffn_up.weight").T.copy())], "up")
        cube = g.op("Mul", [g.op("Mul", [gate, gate], "g2"), gate], "g3")
        inner = g.op("Mul", [g.op("Add", [gate, g.op("Mul", [cube, c_gelu_b], "g3b")], "gpoly"), c_gelu_a], "ginner")
        act = g.op("Mul", [g.op("Mul", [gate, c_halff], "ghalf"), g.op("Add", [one_f, g.op("Tanh", [inner], "gtanh")], "g1t")], "gelu")
        down = g.op("MatMul", [g.op("Mul", [act, up], "gated"), g.const(p + "wdown", model.tensor(p + "ffn_down.weight").T.copy())], "down")
        h = g.op("Add", [h, _rms_norm(g, down, vec(p + "post_ffw_norm.weight"), eps)], "resid")
        if (i + 1) in layers:
            out_names[i + 1] = h

    outputs: list[onnx.ValueInfoProto] = []
    _hidden_outputs(g, out_names, layers, D, outputs)
    if logits:
        normed = _rms_norm(g, h, vec("output_norm.weight"), eps)
        head = (g.const("lm_head", model.tensor("output.weight").T.copy()) if model.has_tensor("output.weight")
                else g.op("Transpose", [emb], "lm_head_tied", perm=[1, 0]))
        lm = g.op("MatMul", [normed, head], "lm")
        if cfg.final_logit_softcap:
            cap = g.const("c_softcap", np.array(cfg.final_logit_softcap, dtype=np.float32))
            lm = g.op("Mul", [g.op("Tanh", [g.op("Div", [lm, cap], "lmdiv")], "lmtanh"), cap], "lmcap")
        g.nodes.append(helper.make_node("Identity", [lm], ["logits"], name="out_logits"))
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", cfg.vocab_size]))
    if start_layer > 0 and not logits:  # the embedding table is only needed for the tied LM head
        g.inits = [t for t in g.inits if t.name != "token_embd"]
    m = _residual_model(g, "gemma3_residual", model, layers, start_layer, kv_cache, D, outputs, kv_inputs, kv_outputs,
                        architecture="gemma3")
    tick(total, "done")
    return m


def export(model: GgufModel, layers: Sequence[int], out_path: Path, progress: Callable[[int, int, str], None] | None = None,
           start_layer: int = 0, logits: bool = False, kv_cache: bool = False) -> Path:
    m = build_graph(model, layers, progress, start_layer, logits, kv_cache)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".onnx.tmp")
    onnx.save_model(m, str(tmp))
    tmp.replace(out_path)
    return out_path
