import { describe, expect, it } from 'vitest';
import { BatchBodyError, parseBatchBody } from './http-batch-body.ts';

const raw = (body: string | Buffer, type = 'application/json') =>
  parseBatchBody(Buffer.isBuffer(body) ? body : Buffer.from(body), type).map((item) => item.raw.toString('latin1'));

const refusal = (body: string | Buffer, type = 'application/json'): string => {
  try {
    parseBatchBody(Buffer.isBuffer(body) ? body : Buffer.from(body), type);
  } catch (error) {
    if (error instanceof BatchBodyError) return error.code;
    throw error;
  }
  return 'accepted';
};

describe('HTTP batch bodies', () => {
  it('keeps each array element as the exact bytes it occupies', () => {
    expect(raw(' [ {"a": "x, ]"} ,\n{"b":[1, {"c":"\\""}]}, 2 ] ')).toEqual([
      '{"a": "x, ]"}',
      '{"b":[1, {"c":"\\""}]}',
      '2',
    ]);
    expect(raw('{"a":1}\r\n\n {"b":2}', 'application/x-ndjson')).toEqual(['{"a":1}', ' {"b":2}']);
  });

  it('keeps an element that is not UTF-8 as an item (the worker stores it as malformed_json)', () => {
    const body = Buffer.concat([Buffer.from('[{"a":"'), Buffer.from([0xff]), Buffer.from('"},{"b":1}]')]);
    const items = parseBatchBody(body, 'application/json');
    expect(items.map((item) => item.parsed)).toEqual([undefined, { b: 1 }]);
    expect(items[0]?.raw.includes(Buffer.from([0xff]))).toBe(true);
  });

  it.each([
    ['', 'empty_batch'],
    ['[]', 'empty_batch'],
    ['[,]', 'not_a_batch'],
    ['[1,]', 'not_a_batch'],
    ['[1 2]', 'not_a_batch'],
    ['[{}]]', 'not_a_batch'],
    ['[{}', 'not_a_batch'],
    ['{"a":1}', 'not_a_batch'],
    ['\u{feff}[{}]', 'not_a_batch'],
    [`[${'['.repeat(10_000)}${']'.repeat(10_000)}]`, 'too_deeply_nested'],
  ])('refuses %j whole as %s', (body, code) => {
    expect(refusal(body)).toBe(code);
  });
});
