"""Chat-template rendering and role-aware tokenization, shared contract with the Node runtime.

The conversation is rendered with the model's own chat template (from the GGUF), then each
message's content is located in the rendered text in order. The text is tokenized segment by
segment (template text, then each message's content), so every token carries the role of the
message it came from, or "template" for markup the template added. The Node runtime
(src/probe/chat-tokenizer.ts) implements the same algorithm; a parity test compares them.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
import numpy as np
from tokenizers import Tokenizer

ROLES = ("template", "system", "user", "assistant", "tool")
ROLE_CODE = {r: i for i, r in enumerate(ROLES)}


@dataclass
class Encoded:
    ids: np.ndarray  # int64 [T]
    roles: np.ndarray  # int8 [T], ROLE_CODE
    msg: np.ndarray | None = None  # int32 [T]: index of the message a token belongs to (-1: template)


class ChatTokenizer:
    def __init__(self, tokenizer_json: str, chat_template: str, bos: str = "", eos: str = "") -> None:
        self.tok = Tokenizer.from_file(tokenizer_json)
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        env.globals["raise_exception"] = _raise
        self.template = env.from_string(chat_template)
        self.bos, self.eos = bos, eos

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.template.render(messages=messages, add_generation_prompt=False, bos_token=self.bos, eos_token=self.eos)

    def segments(self, messages: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [(t, r) for t, r, _ in self._segments(messages)]

    def _segments(self, messages: list[dict[str, str]]) -> list[tuple[str, str, int]]:
        text = self.render(messages)
        out: list[tuple[str, str, int]] = []
        cursor = 0
        for mi, m in enumerate(messages):
            content = m["content"]
            if not content:
                continue
            start = text.find(content, cursor)
            if start < 0:
                raise ValueError(f"chat template dropped the content of a {m['role']} message")
            if start > cursor:
                out.append((text[cursor:start], "template", -1))
            out.append((content, m["role"], mi))
            cursor = start + len(content)
        if cursor < len(text):
            out.append((text[cursor:], "template", -1))
        return out

    def encode(self, messages: list[dict[str, str]]) -> Encoded:
        ids: list[int] = []
        roles: list[int] = []
        msg: list[int] = []
        for seg, role, mi in self._segments(messages):
            seg_ids = self.tok.encode(seg, add_special_tokens=False).ids
            ids += seg_ids
            roles += [ROLE_CODE.get(role, 0)] * len(seg_ids)
            msg += [mi] * len(seg_ids)
        return Encoded(np.asarray(ids, dtype=np.int64), np.asarray(roles, dtype=np.int8), np.asarray(msg, dtype=np.int32))

    def encode_text(self, text: str) -> Encoded:
        ids = self.tok.encode(text, add_special_tokens=False).ids
        return Encoded(np.asarray(ids, dtype=np.int64), np.full(len(ids), ROLE_CODE["assistant"], dtype=np.int8))


def _raise(msg: str) -> None:
    raise jinja2.TemplateError(msg)


def fit_context(e: Encoded, limit: int) -> tuple[Encoded, tuple[int, int] | None]:
    """The runtime's policy for a conversation longer than the model's context: keep the leading
    system prompt (its tokens and the template around it) and the newest tokens, drop from the
    middle. Returns the kept sequence and the dropped token span [start, end) of the original,
    or None when nothing was dropped. The newest message is never dropped unless it alone
    exceeds the context (then its newest tokens are kept)."""
    n = len(e.ids)
    if n <= limit:
        return e, None
    head = 0
    sys_code = ROLE_CODE["system"]
    while head < n and e.roles[head] in (sys_code, ROLE_CODE["template"]) and (e.msg is None or e.msg[head] <= 0):
        head += 1
    head = min(head, limit // 2)
    tail = limit - head
    keep = np.r_[np.arange(head), np.arange(n - tail, n)]
    return Encoded(e.ids[keep], e.roles[keep], None if e.msg is None else e.msg[keep]), (head, n - tail)


def windows(n_tokens: int, max_tokens: int, max_windows: int) -> tuple[list[tuple[int, int]], bool]:
    """Split a sequence into consecutive windows; returns (spans, truncated)."""
    spans = [(s, min(s + max_tokens, n_tokens)) for s in range(0, n_tokens, max_tokens)]
    return spans[:max_windows], len(spans) > max_windows
