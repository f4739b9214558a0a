/**
 * Token offsets on a tiny hand-made byte-level BPE tokenizer (the real SmolLM2 one is checked the
 * same way when present: every content token's slice equals its decoded text, or it is part of
 * a multi-byte character, and the tokens of a message tile its content).
 */
import { alignTokens, ChatTokenizer, isByteLevelSpelling, ROLE_CODES } from '../../../src/probe/chat-tokenizer';

/** GPT-2 bytes_to_unicode: byte -> the character that spells it in a byte-level vocabulary. */
function byteChars(): string[] {
  const keep = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(keep(b) ? b : 256 + shifted++));
  return out;
}

function tinyTokenizer(): ChatTokenizer {
  const chars = byteChars();
  const vocab: Record<string, number> = {};
  chars.forEach((c, i) => { vocab[c] = i; });
  // Two merges so that some tokens span several characters: "he" and "Ġw" (" w").
  vocab.he = 256;
  vocab['Ġw'] = 257;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return new ChatTokenizer({
    tokenizerJson: {
      version: '1.0',
      added_tokens: [
        { id: 258, content: '<|s|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        { id: 259, content: '<|e|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: null,
      decoder: byteLevel,
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: ['h e', 'Ġ w'] },
    },
    config: {
      chat_template: "{% for m in messages %}{{ '<|s|>' + m['role'] + '\\n' + m['content'] + '<|e|>\\n' }}{% endfor %}",
      bos_token: '<|s|>',
      eos_token: '<|e|>',
      pad_token_id: 259,
    },
  });
}

describe('chat tokenizer offsets', () => {
  const ct = tinyTokenizer();
  const messages = [
    { role: 'system' as const, content: '' },
    { role: 'user' as const, content: 'he went' },
    { role: 'assistant' as const, content: 'é😀a' },
  ];
  const enc = ct.encode(messages);
  const tokensOf = (m: number): number[] => enc.ids.map((_, i) => i).filter((i) => enc.msg[i] === m);

  it('keeps ids and roles as before, and marks markup with message -1', () => {
    expect(enc.ids.length).toBe(enc.roles.length);
    expect([enc.msg.length, enc.start.length, enc.end.length]).toEqual([enc.ids.length, enc.ids.length, enc.ids.length]);
    enc.roles.forEach((r, i) => expect(r === ROLE_CODES.template).toBe(enc.msg[i] === -1));
    expect(enc.ids[0]).toBe(258);
    expect(enc.start[0]).toBe(-1);
  });

  it('points each content token at its own characters (message index counts skipped empty messages)', () => {
    const user = tokensOf(1);
    expect(user.map((i) => ct.decodeToken(enc.ids[i]))).toEqual(['he', ' w', 'e', 'n', 't']);
    expect(user.map((i) => messages[1].content.slice(enc.start[i], enc.end[i]))).toEqual(['he', ' w', 'e', 'n', 't']);
    expect(tokensOf(0)).toEqual([]);
  });

  it('gives a token that holds only some bytes of a character the whole character', () => {
    const asst = tokensOf(2);
    // é is 2 UTF-8 bytes, 😀 is 4 (a surrogate pair in UTF-16), a is 1: one token per byte.
    expect(asst.map((i) => [enc.start[i], enc.end[i]])).toEqual([[0, 1], [0, 1], [1, 3], [1, 3], [1, 3], [1, 3], [3, 4]]);
  });

  it('refuses to align when the byte lengths do not add up to the text', () => {
    expect(alignTokens('abc', [1, 1])).toBeNull();
    expect(alignTokens('a€b', [1, 3, 1])).toEqual([[0, 1], [1, 2], [2, 3]]);
  });

  it('recognises byte-level spellings', () => {
    expect(isByteLevelSpelling('Ġhello')).toBe(true);
    expect(isByteLevelSpelling('<|s|>')).toBe(true);
    expect(isByteLevelSpelling('hello world')).toBe(false);
    expect(isByteLevelSpelling('日本')).toBe(false);
  });
});
