import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';

import type { ChatMessage } from '../ingest/event-contract';

/** Role codes shared with tools/probe-builder (chat.py ROLES). */
export const ROLE_CODES = { template: 0, system: 1, user: 2, assistant: 3, tool: 4 } as const;
export type RoleName = keyof typeof ROLE_CODES;

export interface EncodedConversation {
  ids: number[];
  /** ROLE_CODES of the message each token came from (template markup = 0). */
  roles: number[];
}

export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  config: { chat_template: string; bos_token: string; eos_token: string; pad_token_id: number };
}

export class ChatTemplateError extends Error {
  readonly code = 'CHAT_TEMPLATE';
}

/**
 * Renders a conversation with the model's own chat template and tokenizes it segment by
 * segment (markup, then each message's content), so every token knows its role. Same algorithm
 * as the builder's ChatTokenizer; test/integration/probe/parity.spec.ts checks they agree.
 */
export class ChatTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly template: Template;

  constructor(readonly files: TokenizerFiles) {
    this.tokenizer = new Tokenizer(files.tokenizerJson, { ...files.config, chat_template: undefined });
    this.template = new Template(files.config.chat_template);
  }

  render(messages: readonly ChatMessage[]): string {
    return this.template.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: false,
      bos_token: this.files.config.bos_token,
      eos_token: this.files.config.eos_token,
    });
  }

  segments(messages: readonly ChatMessage[]): Array<{ text: string; role: RoleName }> {
    const text = this.render(messages);
    const out: Array<{ text: string; role: RoleName }> = [];
    let cursor = 0;
    for (const m of messages) {
      if (!m.content) continue;
      const start = text.indexOf(m.content, cursor);
      if (start < 0) throw new ChatTemplateError(`chat template dropped the content of a ${m.role} message`);
      if (start > cursor) out.push({ text: text.slice(cursor, start), role: 'template' });
      out.push({ text: m.content, role: m.role });
      cursor = start + m.content.length;
    }
    if (cursor < text.length) out.push({ text: text.slice(cursor), role: 'template' });
    return out;
  }

  encode(messages: readonly ChatMessage[]): EncodedConversation {
    const ids: number[] = [];
    const roles: number[] = [];
    for (const seg of this.segments(messages)) {
      const segIds = this.tokenizer.encode(seg.text, { add_special_tokens: false }).ids;
      for (const id of segIds) {
        ids.push(id);
        roles.push(ROLE_CODES[seg.role]);
      }
    }
    return { ids, roles };
  }

  decodeToken(id: number): string {
    return this.tokenizer.decode([id], { skip_special_tokens: false });
  }
}
