/**
 * The nasty classics every input surface is fed, besides what the generators make: deep nesting,
 * huge and empty lines, bad bytes, byte-order marks, control and bidirectional characters, YAML
 * anchors, odd periods. As bytes, so invalid UTF-8 stays invalid.
 */
export const CLASSIC_LINES: readonly Buffer[] = [
  '',
  ' ',
  '\t',
  '\r',
  '{}',
  '[]',
  'null',
  '0',
  '"x"',
  '{"a":',
  '\ufeff{}',
  '\ufeff',
  '['.repeat(20_000) + ']'.repeat(20_000),
  '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000),
  '\u001b[2J\u001b]0;title\u0007',
  '{"\u001b[31m": 1}',
  '{"quantity": 1e400}',
  '{"quantity": "1e3"}',
  '{"__proto__": {"polluted": true}}',
  '{"constructor": {"prototype": {"x": 1}}}',
  '{"a":"\\ud800"}',
  '{"a":"\u0000"}',
  '\u202e{"a":1}',
  'x'.repeat(70_000),
].map((text) => Buffer.from(text, 'utf8'));

export const CLASSIC_BYTES: readonly Buffer[] = [
  Buffer.from([0xff]),
  Buffer.from([0xc0, 0x80]), // overlong NUL
  Buffer.from([0xed, 0xa0, 0x80]), // encoded surrogate
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Buffer.from([0xe2, 0x82]), // truncated sequence
  Buffer.from('{"a":"', 'utf8').subarray(0),
  Buffer.concat([Buffer.from('{"unit":"', 'utf8'), Buffer.from([0xfe, 0xff]), Buffer.from('"}', 'utf8')]),
];

export const CLASSIC_PERIODS: readonly string[] = [
  '0000-01',
  '0026-10',
  '0099-12',
  '1899-12',
  '1999-12',
  '2000-01',
  '2026-10',
  '2199-12',
  '2200-01',
  '9999-12',
  '2026-00',
  '2026-13',
  '2026-1',
  '26-10',
  '2026/10',
  '2026-10-01',
  ' 2026-10',
  '2026-10 ',
  '2026-10\n',
  '２０２６-１０',
  '+2026-10',
  '-2026-10',
  '',
  '\u0000',
  '\u001b[2J',
  '2026-10\u202e',
];
