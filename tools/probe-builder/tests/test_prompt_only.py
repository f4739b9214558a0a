"""with_prompt_only: conversations as they stood before the assistant's reply, from the harvested tokens."""

from __future__ import annotations

import numpy as np

from probe_builder.chat import ROLE_CODE
from probe_builder.scenario_eval import PROMPT_ONLY_SOURCE, ScenarioActs, with_prompt_only
from probe_builder.scenarios import Scenario

U, A, T = ROLE_CODE["user"], ROLE_CODE["assistant"], ROLE_CODE["tool"]


def scenario(i: str, concept: str, label: int, roles: list[str]) -> Scenario:
    return Scenario(i, f"p-{i}", concept, "st", f"fam-{i}", label, tuple((r, f"{r} text") for r in roles))


def acts(tmp_path, rows, sources, roles_per_conv):
    role = np.concatenate([np.array(r, np.int8) for r in roles_per_conv])
    conv = np.concatenate([np.full(len(r), i, np.int64) for i, r in enumerate(roles_per_conv)])
    pos = np.concatenate([np.arange(len(r)) for r in roles_per_conv]).astype(np.int32)
    x = np.random.default_rng(0).normal(size=(len(role), 4)).astype(np.float16)
    npz = tmp_path / "part.npz"
    np.savez(npz, L18=x)
    return ScenarioActs(rows, sources, role, conv, pos, np.zeros(len(role), bool), [(npz, np.arange(len(role)))], [18]), x


def test_only_label_carrying_concepts_that_end_in_a_reply_get_a_prompt_only_copy(tmp_path):
    rows = [scenario("h1", "harmful_intent", 1, ["user", "assistant"]),
            scenario("d1", "deception", 1, ["user", "assistant"]),  # the label is in the reply: no copy
            scenario("c1", "control", 0, ["user", "tool", "assistant", "assistant"]),
            scenario("c2", "control", 0, ["user"]),  # no reply to remove
            scenario("l1", "harmful_intent", 0, ["user", "assistant"])]  # a composed long one: never copied
    roles = [[U, U, U, A, A], [U, U, A, A], [U, T, T, A, A, A], [U, U], [U, A]]
    sa, x = acts(tmp_path, rows, ["scenarios"] * 4 + ["scenarios-long"], roles)
    out = with_prompt_only(sa)
    assert [r.id for r in out.rows[5:]] == ["h1#prompt", "c1#prompt"]
    assert out.sources[5:] == [PROMPT_ONLY_SOURCE] * 2
    h, c = out.rows[5], out.rows[6]
    assert (h.label, h.family, h.subtype, h.pair) == (1, "fam-h1", "st", "p-h1#prompt")
    assert [m[0] for m in h.messages] == ["user"] and [m[0] for m in c.messages] == ["user", "tool"]
    # tokens: the harvested ones before the reply, in order, with their layer rows
    assert out.n_harvested == len(sa.role) == 19
    m5, m6 = out.conv == 5, out.conv == 6
    assert out.role[m5].tolist() == [U, U, U] and out.pos[m5].tolist() == [0, 1, 2]
    assert out.role[m6].tolist() == [U, T, T]
    layer = out.layer(18)
    assert layer.shape == (19 + 6, 4)
    np.testing.assert_array_equal(layer[:19], x)
    np.testing.assert_array_equal(layer[m5], x[:3])
    np.testing.assert_array_equal(layer[m6], x[9:12])
    assert np.all(np.diff(out.conv) >= 0)
    assert out.data_key() != sa.data_key()


def test_nothing_to_copy_leaves_the_set_as_it_was(tmp_path):
    rows = [scenario("s1", "sycophancy", 1, ["user", "assistant"])]
    sa, _ = acts(tmp_path, rows, ["scenarios"], [[U, A]])
    assert with_prompt_only(sa) is sa
