"""Gemma 3 chat format for probewatch: a role-normalising chat template.

Gemma's own template knows only `user` and `model` turns: it folds a leading system message
into the first user turn (`system + "\\n\\n" + user`), has no `tool` role, raises unless the
roles alternate user/assistant/..., and trims every message. probewatch sees arbitrary
conversations and must still find each message's content verbatim in the rendered text (that
is how `chat.ChatTokenizer.segments` and the Node runtime give each token its role), so the
converter ships its own template, `CHAT_TEMPLATE`, written into `tokenizer_config.json`. It
renders exactly what Gemma's template renders for conversations Gemma accepts (system?, then
alternating user/assistant, no surrounding whitespace), and otherwise normalises as follows:

  1. Turn role: `assistant` -> `model`; every other role (`user`, `system`, `tool`, anything
     else) -> `user`.
  2. Consecutive messages with the same turn role share one turn; their contents are joined
     with "\\n\\n" (template text). A leading system message followed by a user message thus
     gives Gemma's own `<start_of_turn>user\\n{system}\\n\\n{user}<end_of_turn>`.
  3. Contents are written verbatim (not trimmed); an empty content adds nothing but its "\\n\\n".
  4. No turn is invented: a conversation may start with a `model` turn.

Every original message's content therefore appears verbatim, contiguously and in order, and
keeps its original role (system/tool tokens are still attributed to system/tool). Because the
normalisation lives in the template, the Python ChatTokenizer and the Node runtime need no
Gemma-specific code. `normalize_messages` is the same rule in Python (the spec; the tests
check that the template agrees with it).
"""

from __future__ import annotations

TURN_SEPARATOR = "\n\n"

# Jinja; every block trims its own whitespace, so trim_blocks/lstrip_blocks settings do not matter.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else 'user' -%}"
    "{%- set prev = '' if loop.first else ('model' if messages[loop.index0 - 1]['role'] == 'assistant' else 'user') -%}"
    "{%- set next = '' if loop.last else ('model' if messages[loop.index0 + 1]['role'] == 'assistant' else 'user') -%}"
    "{%- if role != prev -%}{{- '<start_of_turn>' + role + '\\n' -}}{%- else -%}{{- '\\n\\n' -}}{%- endif -%}"
    "{%- if message['content'] -%}{{- message['content'] -}}{%- endif -%}"
    "{%- if role != next -%}{{- '<end_of_turn>\\n' -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\\n' -}}{%- endif -%}"
)

START_OF_TURN, END_OF_TURN = "<start_of_turn>", "<end_of_turn>"


def turn_role(role: str) -> str:
    return "model" if role == "assistant" else "user"


def normalize_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Gemma turns ({"role": "user"|"model", "content"}) for any conversation (rules above).

    The result alternates user/model; each turn's content is its messages' contents joined
    with TURN_SEPARATOR, so every original content is a verbatim substring, in order.
    """
    turns: list[dict[str, str]] = []
    for m in messages:
        role, content = turn_role(m["role"]), m.get("content") or ""
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += TURN_SEPARATOR + content
        else:
            turns.append({"role": role, "content": content})
    return turns


def render_turns(turns: list[dict[str, str]], bos_token: str = "<bos>", add_generation_prompt: bool = False) -> str:
    """Gemma's turn format for already-alternating turns (what Gemma's own template writes)."""
    text = bos_token + "".join(f"{START_OF_TURN}{t['role']}\n{t['content']}{END_OF_TURN}\n" for t in turns)
    return text + (f"{START_OF_TURN}model\n" if add_generation_prompt else "")
