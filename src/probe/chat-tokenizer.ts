import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';

import type { ChatMessage } from '../domain/event';

/** Role codes shared with tools/probe-builder (chat.py ROLES). */
export const ROLE_CODES = { template: 0, system: 1, user: 2, assistant: 3, tool: 4 } as const;
export type RoleName = keyof typeof ROLE_CODES;

export interface EncodedConversation {
  ids: number[];
  /** ROLE_CODES of the message each token came from (template markup = 0). */
  roles: number[];
  /** Index (into the messages given) of the message each token came from; -1 for markup. */
  msg: number[];
  /** UTF-16 offsets of each token in its message's content; -1 for markup, or when the tokens
   *  of a message could not be aligned with its text (then its evidence is masked, not shown). */
  start: number[];
  end: number[];
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

  private readonly addedTokenIds: ReadonlySet<number>;
  /** A SentencePiece-style vocabulary (Gemma): pieces spell a space as U+2581 and a character
   *  outside the vocabulary as one <0xNN> piece per UTF-8 byte. */
  private readonly sentencePiece: boolean;

  constructor(readonly files: TokenizerFiles) {
    this.tokenizer = new Tokenizer(files.tokenizerJson, { ...files.config, chat_template: undefined });
    this.template = new Template(files.config.chat_template);
    // A trusted model artifact (tokenizer.json), already parsed by the Tokenizer above.
    const added = files.tokenizerJson.added_tokens as ReadonlyArray<{ id: number }> | undefined;
    this.addedTokenIds = new Set((added ?? []).map((t) => t.id));
    const model = files.tokenizerJson.model as { byte_fallback?: boolean } | undefined;
    this.sentencePiece = model?.byte_fallback === true;
  }

  render(messages: readonly ChatMessage[]): string {
    return this.template.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: false,
      bos_token: this.files.config.bos_token,
      eos_token: this.files.config.eos_token,
    });
  }

  /** The rendered conversation cut into markup and message contents (`message`: its index). */
  segments(messages: readonly ChatMessage[]): Array<{ text: string; role: RoleName; message?: number }> {
    const text = this.render(messages);
    const out: Array<{ text: string; role: RoleName; message?: number }> = [];
    let cursor = 0;
    messages.forEach((m, i) => {
      if (!m.content) return;
      const start = text.indexOf(m.content, cursor);
      if (start < 0) throw new ChatTemplateError(`chat template dropped the content of a ${m.role} message`);
      if (start > cursor) out.push({ text: text.slice(cursor, start), role: 'template' });
      out.push({ text: m.content, role: m.role, message: i });
      cursor = start + m.content.length;
    });
    if (cursor < text.length) out.push({ text: text.slice(cursor), role: 'template' });
    return out;
  }

  encode(messages: readonly ChatMessage[]): EncodedConversation {
    const enc: EncodedConversation = { ids: [], roles: [], msg: [], start: [], end: [] };
    for (const seg of this.segments(messages)) {
      const { ids, tokens } = this.tokenizer.encode(seg.text, { add_special_tokens: false });
      const spans = seg.message === undefined ? null : alignTokens(seg.text, ids.map((id, i) => this.byteLength(id, tokens[i])));
      ids.forEach((id, i) => {
        enc.ids.push(id);
        enc.roles.push(ROLE_CODES[seg.role]);
        enc.msg.push(seg.message ?? -1);
        enc.start.push(spans ? spans[i][0] : -1);
        enc.end.push(spans ? spans[i][1] : -1);
      });
    }
    return enc;
  }

  /**
   * UTF-8 bytes of the text a token stands for. A byte-level BPE vocabulary entry spells its
   * bytes one character each (GPT-2's bytes-to-unicode table); an added token (<|im_start|>)
   * matches its content verbatim; a SentencePiece piece is its text with U+2581 for a space, or
   * one byte (<0xNN>). Anything else: the length of its decoded text.
   */
  private byteLength(id: number, token: string): number {
    if (this.addedTokenIds.has(id)) return Buffer.byteLength(token);
    if (this.sentencePiece) return sentencePieceBytes(token);
    return isByteLevelSpelling(token) ? token.length : Buffer.byteLength(this.decodeToken(id));
  }

  decodeToken(id: number): string {
    return this.tokenizer.decode([id], { skip_special_tokens: false });
  }
}

/**
 * True when every character is one of the 256 that GPT-2's bytes_to_unicode uses to spell a
 * byte: printable Latin-1 stands for itself (33-126, 161-172, 174-255), the other 68 bytes are
 * shifted to U+0100-U+0143.
 */
export function isByteLevelSpelling(token: string): boolean {
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 323))) return false;
  }
  return token.length > 0;
}

/** UTF-8 bytes a SentencePiece piece stands for: 1 for a byte piece (<0xNN>), else its text with
 *  U+2581 read as a space. */
export function sentencePieceBytes(piece: string): number {
  return /^<0x[0-9A-Fa-f]{2}>$/.test(piece) ? 1 : Buffer.byteLength(piece.replace(/\u2581/g, ' '));
}

/** UTF-16 length and UTF-8 length of the code point at i (a lone surrogate encodes as U+FFFD). */
function codePointAt(text: string, i: number): [number, number] {
  const c = text.charCodeAt(i);
  if (c < 0x80) return [1, 1];
  if (c < 0x800) return [1, 2];
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return [2, 4];
  }
  return [1, 3];
}

/**
 * UTF-16 [start, end) of each token in `text`, given each token's UTF-8 byte length; null when
 * the lengths do not add up to the text (a normalizer or an unknown token changed it). A token
 * holding only some bytes of a character is given the whole character, so it still overlaps
 * whatever span that character is in.
 */
export function alignTokens(text: string, byteLengths: readonly number[]): Array<[number, number]> | null {
  if (byteLengths.reduce((a, b) => a + b, 0) !== Buffer.byteLength(text)) return null;
  const out: Array<[number, number]> = [];
  // The code point containing the current token's first byte: its UTF-16 index and byte offset.
  let cpU16 = 0;
  let cpByte = 0;
  let byte = 0;
  for (const len of byteLengths) {
    const b0 = byte;
    const b1 = byte + len;
    byte = b1;
    while (cpU16 < text.length) {
      const [u, b] = codePointAt(text, cpU16);
      if (cpByte + b > b0) break;
      cpU16 += u;
      cpByte += b;
    }
    let endU16 = cpU16;
    let endByte = cpByte;
    while (endByte < b1 && endU16 < text.length) {
      const [u, b] = codePointAt(text, endU16);
      endU16 += u;
      endByte += b;
    }
    out.push([cpU16, endU16]);
  }
  return out;
}
