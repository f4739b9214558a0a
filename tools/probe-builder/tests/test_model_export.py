"""ONNX export vs the independent numpy reference, on a tiny random GGUF model."""

import json

import numpy as np
import onnxruntime as ort
import pytest

from probe_builder.chat import ChatTokenizer, windows
from probe_builder.gguf_model import load_gguf, unpermute_qk
from probe_builder.onnx_export import export
from probe_builder.reference import ReferenceLlama
from probe_builder.tokenizer_export import write_tokenizer


def test_unpermute_inverts_llama_cpp_permutation():
    rng = np.random.default_rng(0)
    hf = rng.standard_normal((16, 5))
    n_head = 2
    gguf_order = hf.reshape(n_head, 2, 4, 5).swapaxes(1, 2).reshape(16, 5)  # what llama.cpp's converter writes
    np.testing.assert_array_equal(unpermute_qk(gguf_order, n_head), hf)


def test_onnx_matches_reference_with_padding(tiny_gguf, tmp_path):
    model = load_gguf(tiny_gguf)
    path = export(model, [1, 3], tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    seqs = [[5, 9, 33, 70, 12, 3, 99], [40, 41], [7, 7, 7, 7, 200]]
    T = max(map(len, seqs))
    ids = np.full((len(seqs), T), 2, dtype=np.int64)
    mask = np.zeros_like(ids)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = s
        mask[b, : len(s)] = 1
    h1, h3 = sess.run(["hidden_1", "hidden_3"], {"input_ids": ids, "attention_mask": mask})
    ref = ReferenceLlama(model, 3)
    for b, s in enumerate(seqs):
        states = ref.hidden_states(s)
        for got, layer in ((h1, 1), (h3, 3)):
            want = states[layer]
            err = np.abs(got[b, : len(s)] - want).max() / np.abs(want).max()
            assert err < 1e-5, (b, layer, err)


def test_reference_differs_if_rope_convention_is_wrong(tiny_gguf):
    """Guards the parity test's power: skipping the un-permutation must break agreement."""
    model = load_gguf(tiny_gguf)
    ref = ReferenceLlama(model, 2)
    s = [5, 9, 33, 70, 12, 3]
    good = ref.hidden_states(s)[2]
    for blk in ref.blocks:
        blk["attn_q"] = unpermute_qk(blk["attn_q"].astype(np.float64), 4)
    bad = ref.hidden_states(s)[2]
    assert np.abs(good - bad).max() > 1e-3


def test_tail_graph_continues_from_hidden_state(tiny_gguf, tmp_path):
    model = load_gguf(tiny_gguf)
    head = ort.InferenceSession(str(export(model, [1, 3], tmp_path / "h.onnx")), providers=["CPUExecutionProvider"])
    tail = ort.InferenceSession(str(export(model, [3], tmp_path / "t.onnx", start_layer=1, logits=True)), providers=["CPUExecutionProvider"])
    ids = np.array([[5, 9, 33, 70]], dtype=np.int64)
    mask = np.ones_like(ids)
    h1, h3 = head.run(["hidden_1", "hidden_3"], {"input_ids": ids, "attention_mask": mask})
    t3, logits = tail.run(["hidden_3", "logits"], {"hidden_in": h1, "attention_mask": mask})
    np.testing.assert_allclose(t3, h3, rtol=1e-5, atol=1e-5)
    assert logits.shape == (1, 4, model.config.vocab_size)


def test_tokenizer_export_and_role_segments(tiny_gguf, tmp_path):
    model = load_gguf(tiny_gguf)
    files = write_tokenizer(model.tokenizer, tmp_path)
    cfg = json.loads(files["config"].read_text())
    ct = ChatTokenizer(str(files["tokenizer"]), cfg["chat_template"], cfg["bos_token"], cfg["eos_token"])
    msgs = [{"role": "user", "content": "hello there 42"}, {"role": "assistant", "content": "hell no"}]
    enc = ct.encode(msgs)
    toks = [ct.tok.id_to_token(int(i)) for i in enc.ids]
    assert toks[0] == "<|im_start|>" and "<|im_end|>" in toks
    assert "hell" in toks and "4" in toks and "2" in toks  # merges applied; digits split one by one
    assert ct.tok.decode(enc.ids.tolist(), skip_special_tokens=False) == ct.render(msgs)
    user_text = ct.tok.decode([int(i) for i, r in zip(enc.ids, enc.roles) if r == 2])
    assert user_text == "hello there 42"
    asst_text = ct.tok.decode([int(i) for i, r in zip(enc.ids, enc.roles) if r == 3])
    assert asst_text == "hell no"


def test_template_that_drops_content_is_an_error(tiny_gguf, tmp_path):
    model = load_gguf(tiny_gguf)
    files = write_tokenizer(model.tokenizer, tmp_path)
    ct = ChatTokenizer(str(files["tokenizer"]), "{% for m in messages %}{{ m['role'] }}{% endfor %}")
    with pytest.raises(ValueError, match="dropped the content"):
        ct.encode([{"role": "user", "content": "hi"}])


def test_windows_policy():
    assert windows(10, 4, 8) == ([(0, 4), (4, 8), (8, 10)], False)
    assert windows(10, 4, 2) == ([(0, 4), (4, 8)], True)
    assert windows(0, 4, 2) == ([], False)


def _kv_feed(model, n_blocks: int, ids: list[int], past: dict | None) -> dict:
    cfg = model.config
    feed = {"input_ids": np.asarray([ids], dtype=np.int64)}
    p = 0 if past is None else past["present_key_0"].shape[2]
    feed["attention_mask"] = np.ones((1, p + len(ids)), dtype=np.int64)
    for i in range(n_blocks):
        for kind in ("key", "value"):
            feed[f"past_{kind}_{i}"] = (np.zeros((1, cfg.n_kv_heads, 0, cfg.head_dim), np.float32) if past is None
                                        else past[f"present_{kind}_{i}"])
    return feed


def test_chunked_prefill_matches_a_single_pass(tiny_gguf, tmp_path):
    """Feeding a sequence chunk by chunk through the key/value cache gives every token the
    residual a single pass over the whole sequence gives (and the float64 reference)."""
    model = load_gguf(tiny_gguf)
    plain = ort.InferenceSession(str(export(model, [3], tmp_path / "p.onnx")), providers=["CPUExecutionProvider"])
    kv = ort.InferenceSession(str(export(model, [3], tmp_path / "kv.onnx", kv_cache=True)), providers=["CPUExecutionProvider"])
    names = [o.name for o in kv.get_outputs()]
    assert names[0] == "hidden_3" and "present_key_2" in names and "present_value_0" in names
    rng = np.random.default_rng(0)
    seq = rng.integers(3, model.config.vocab_size, 23).tolist()
    (single,) = plain.run(["hidden_3"], {"input_ids": np.asarray([seq]), "attention_mask": np.ones((1, len(seq)), np.int64)})
    got, past = [], None
    for a, b in ((0, 7), (7, 8), (8, 20), (20, 23)):  # uneven chunks, one of a single token
        out = dict(zip(names, kv.run(names, _kv_feed(model, 3, seq[a:b], past))))
        got.append(out["hidden_3"][0])
        past = out
    chunked = np.concatenate(got)
    assert past["present_key_1"].shape[2] == len(seq)
    err = np.abs(chunked - single[0]).max() / np.abs(single[0]).max()
    assert err < 1e-5, err
    want = ReferenceLlama(model, 3).hidden_states(seq)[3]
    assert np.abs(chunked - want).max() / np.abs(want).max() < 1e-5
    # and the cache matters: the last chunk alone, without its past, reads differently
    (alone,) = kv.run(["hidden_3"], _kv_feed(model, 3, seq[20:23], None))
    assert np.abs(alone[0] - single[0, 20:23]).max() / np.abs(single[0]).max() > 1e-3


def test_fit_context_keeps_the_system_prompt_and_the_newest_tokens():
    from probe_builder.chat import ROLE_CODE, Encoded, fit_context
    roles = np.array([0, 1, 1, 1, 0] + [2] * 10 + [0] + [3] * 6, np.int8)
    msg = np.array([-1, 0, 0, 0, -1] + [1] * 10 + [-1] + [2] * 6, np.int32)
    e = Encoded(np.arange(len(roles), dtype=np.int64), roles, msg)
    same, dropped = fit_context(e, 64)
    assert dropped is None and same is e
    kept, dropped = fit_context(e, 12)
    assert len(kept.ids) == 12
    assert kept.ids[:5].tolist() == [0, 1, 2, 3, 4]  # template + system prompt + template
    assert kept.ids[5:].tolist() == list(range(len(roles) - 7, len(roles)))  # the newest tokens
    assert dropped == (5, len(roles) - 7)
    assert (kept.roles[-6:] == ROLE_CODE["assistant"]).all()  # the newest message whole


def test_prefill_residuals_are_the_same_through_either_graph(tiny_gguf, tmp_path):
    from probe_builder.prefill import cache_layout, residuals
    model = load_gguf(tiny_gguf)
    plain = ort.InferenceSession(str(export(model, [2], tmp_path / "p.onnx")), providers=["CPUExecutionProvider"])
    kv = ort.InferenceSession(str(export(model, [2], tmp_path / "kv.onnx", kv_cache=True)), providers=["CPUExecutionProvider"])
    assert cache_layout(plain) is None
    assert cache_layout(kv) == (2, model.config.n_kv_heads, model.config.head_dim)
    ids = np.arange(3, 40)
    a, b = residuals(plain, ids, "hidden_2"), residuals(kv, ids, "hidden_2", chunk_tokens=6)
    assert a.shape == b.shape == (len(ids), model.config.d_model)
    assert np.abs(a - b).max() / np.abs(a).max() < 1e-5


def test_harvest_long_matches_the_one_pass_harvest(tiny_gguf, tmp_path):
    from probe_builder.chat import Encoded
    from probe_builder.harvest import harvest, harvest_long, session
    model = load_gguf(tiny_gguf)
    plain = session(str(export(model, [1, 3], tmp_path / "p.onnx")))
    kv = session(str(export(model, [1, 3], tmp_path / "kv.onnx", kv_cache=True)))
    rng = np.random.default_rng(1)
    enc = [Encoded(rng.integers(3, 200, n).astype(np.int64), rng.integers(0, 5, n).astype(np.int8)) for n in (9, 31, 4)]
    a = harvest(plain, enc, [1, 3], 64, keep_roles=("user", "assistant"))
    b = harvest_long(kv, enc, [1, 3], keep_roles=("user", "assistant"), chunk_tokens=5)
    for f in ("conv", "role", "token", "pos"):
        order_a = np.lexsort((a.pos, a.conv))
        order_b = np.lexsort((b.pos, b.conv))
        np.testing.assert_array_equal(getattr(a, f)[order_a], getattr(b, f)[order_b])
    for l in (1, 3):
        x, y = a.acts[l][np.lexsort((a.pos, a.conv))].astype(np.float32), b.acts[l][np.lexsort((b.pos, b.conv))].astype(np.float32)
        assert np.abs(x - y).max() <= 2e-3 * np.abs(x).max()
