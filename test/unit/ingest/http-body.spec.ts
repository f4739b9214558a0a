import { decodeEventsBody, isJsonContentType, splitArrayItems } from '../../../src/ingest/http-body';

describe('POST /v1/events body decoding', () => {
  it('accepts JSON content types only', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('application/json; charset=utf-8')).toBe(true);
    expect(isJsonContentType('application/cloudevents+json')).toBe(true);
    expect(isJsonContentType('application/json; charset=latin1')).toBe(false);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
    expect(decodeEventsBody('text/plain', Buffer.from('{}'))).toMatchObject({ ok: false, status: 415, field: 'content-type' });
  });

  it('refuses invalid UTF-8 instead of replacing it', () => {
    const r = decodeEventsBody('application/json', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
    expect(r).toMatchObject({ ok: false, status: 400, error: 'invalid_utf8', field: 'body' });
  });

  it('reports malformed and empty JSON', () => {
    expect(decodeEventsBody('application/json', Buffer.from('{"a":'))).toMatchObject({ ok: false, error: 'invalid_json' });
    expect(decodeEventsBody('application/json', Buffer.alloc(0))).toMatchObject({ ok: false, error: 'invalid_json' });
  });

  it('keeps each batch item as the text the client sent', () => {
    const text = ' [ {"id":"a","s":"x,]}\\"{["} ,\n[1,[2]],"str\\\\",  null ,{"b":{"c":[]}} ] ';
    expect(splitArrayItems(text)).toEqual(['{"id":"a","s":"x,]}\\"{["}', '[1,[2]]', '"str\\\\"', 'null', '{"b":{"c":[]}}']);
    const r = decodeEventsBody('application/json', Buffer.from(text));
    expect(r.ok && r.batch && r.items.map((i) => JSON.parse(i.raw))).toEqual(JSON.parse(text));
  });
});
