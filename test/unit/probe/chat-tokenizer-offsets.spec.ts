/**
 * Token offsets on a tiny hand-made byte-level BPE tokenizer (the real SmolLM2 one is checked the
 * same way when present: every content token's slice equals its decoded text, or it is part of
 * a multi-byte character, and the tokens of a message tile its content).
 */
import { alignTokens, ChatTokenizer, isByteLevelSpelling, ROLE_CODES, sentencePieceBytes } from '../../../src/probe/chat-tokenizer';

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

/**
 * A SentencePiece-style vocabulary as the builder exports Gemma's (tokenizer_export.py): a space
 * is normalised to U+2581, and a character outside the vocabulary falls back to one <0xNN> piece
 * per UTF-8 byte. Decoded alone, a byte piece is not its byte, so without reading the spelling
 * the lengths would not add up and the message's evidence would be masked.
 */
function tinySentencePiece(): ChatTokenizer {
  const vocab: Record<string, number> = { '<unk>': 0 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 1 + b;
  for (const c of '\u2581abcdefghijklmnopqrstuvwxyz') vocab[c] = Object.keys(vocab).length;
  vocab['\u2581w'] = Object.keys(vocab).length;
  vocab.or = Object.keys(vocab).length;
  const n = Object.keys(vocab).length;
  return new ChatTokenizer({
    tokenizerJson: {
      version: '1.0',
      added_tokens: [
        { id: n, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        { id: n + 1, content: '<e>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: ['\u2581 w', 'o r'] },
    },
    config: {
      chat_template: "{% for m in messages %}{{ '<s>' + m['role'] + '\\n' + m['content'] + '<e>\\n' }}{% endfor %}",
      bos_token: '<s>',
      eos_token: '<e>',
      pad_token_id: n + 1,
    },
  });
}

describe('chat tokenizer offsets, SentencePiece vocabulary with byte fallback (Gemma)', () => {
  const ct = tinySentencePiece();
  const content = 'héllo world ✓';
  const enc = ct.encode([{ role: 'user', content }]);
  const mine = enc.ids.map((_, i) => i).filter((i) => enc.msg[i] === 0);

  it('counts a piece\'s bytes from its spelling', () => {
    expect(sentencePieceBytes('<0xC3>')).toBe(1);
    expect(sentencePieceBytes('\u2581world')).toBe(6);
    expect(sentencePieceBytes('é')).toBe(2);
  });

  it('aligns every token of a message with byte-fallback pieces, spaces and merges', () => {
    const spans = mine.map((i) => content.slice(enc.start[i], enc.end[i]));
    expect(mine.every((i) => enc.start[i] >= 0)).toBe(true);
    // h, é as two byte pieces (each given the whole character), l l o, " w", or, l, d, " ", ✓ as three bytes
    expect(spans).toEqual(['h', 'é', 'é', 'l', 'l', 'o', ' w', 'or', 'l', 'd', ' ', '✓', '✓', '✓']);
  });
});
