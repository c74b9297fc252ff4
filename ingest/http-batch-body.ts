/** One event of an HTTP batch: its exact bytes as received, and its JSON value when it is valid UTF-8. */
export interface BatchItem {
  readonly raw: Buffer;
  /** `undefined` when the bytes are not valid UTF-8 (the worker stores them as `malformed_json`) or for NDJSON lines. */
  readonly parsed: unknown;
}

/** Why a body is refused as a whole (the HTTP layer turns it into a 400). */
export class BatchBodyError extends Error {
  constructor(
    readonly code: 'not_a_batch' | 'empty_batch' | 'too_deeply_nested',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Nesting allowed in a JSON-array body. An event needs 3 levels (the array, the event, its
 * metadata); anything far deeper is hostile or broken, and deep values are what overflow the stack
 * of recursive JSON code later on.
 */
const MAX_JSON_ARRAY_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT, QUOTE, BACKSLASH, COMMA] = [
  0x5b, 0x5d, 0x7b, 0x7d, 0x22, 0x5c, 0x2c,
];

function isJsonWhitespace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/**
 * A JSON array (Content-Type application/json, or a body whose first byte is `[`) or NDJSON (one
 * event per line). Both keep every item's exact bytes: NDJSON lines as they are, array elements as
 * the byte range they occupy in the body (found by a scan that tracks only strings and brackets, so
 * it neither recurses nor decodes). An element that is not valid UTF-8 is kept as an item for the
 * worker to store as `malformed_json`; a body that is otherwise not a JSON array is refused whole.
 */
export function parseBatchBody(body: Buffer, contentType: string | undefined): BatchItem[] {
  let start = 0;
  while (isJsonWhitespace(body[start])) start++;
  if (start === body.length) throw new BatchBodyError('empty_batch', 'the body holds no events');
  const declaredJson = /^application\/json\b/i.test(contentType ?? '');
  if (body[start] === 0xef && body[start + 1] === 0xbb && body[start + 2] === 0xbf && declaredJson) {
    throw new BatchBodyError(
      'not_a_batch',
      'the body starts with a byte-order mark (U+FEFF); send UTF-8 JSON without it',
    );
  }
  if (declaredJson || body[start] === OPEN_ARRAY) return parseJsonArray(body, start);
  return splitNdjson(body);
}

function splitNdjson(body: Buffer): BatchItem[] {
  const items: BatchItem[] = [];
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    let line = body.subarray(start, end);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (!isBlank(line)) items.push({ raw: Buffer.from(line), parsed: undefined });
    start = end + 1;
  }
  if (items.length === 0) throw new BatchBodyError('empty_batch', 'the body holds no events');
  return items;
}

function isBlank(line: Buffer): boolean {
  for (const byte of line) if (!isJsonWhitespace(byte)) return false;
  return true;
}

function parseJsonArray(body: Buffer, start: number): BatchItem[] {
  if (body[start] !== OPEN_ARRAY)
    throw new BatchBodyError(
      'not_a_batch',
      'a JSON body must be an array of events (or send NDJSON, one event per line)',
    );
  const ranges: Array<[number, number]> = [];
  let depth = 1;
  let inString = false;
  let itemStart = -1;
  let itemEnd = -1;
  let closedAt = -1;
  const closeItem = (at: number): void => {
    if (itemStart < 0)
      throw new BatchBodyError('not_a_batch', `the body is not valid JSON: a missing element at byte ${at}`);
    ranges.push([itemStart, itemEnd]);
    itemStart = -1;
  };
  for (let index = start + 1; index < body.length; index++) {
    const byte = body[index] as number;
    if (inString) {
      if (byte === BACKSLASH) index++;
      else if (byte === QUOTE) {
        inString = false;
        if (depth === 1) itemEnd = index + 1;
      }
      continue;
    }
    if (isJsonWhitespace(byte)) continue;
    if (depth === 1) {
      if (byte === CLOSE_ARRAY) {
        if (itemStart >= 0 || ranges.length > 0) closeItem(index);
        closedAt = index;
        break;
      }
      if (byte === COMMA) {
        closeItem(index);
        continue;
      }
      if (byte === CLOSE_OBJECT)
        throw new BatchBodyError('not_a_batch', `the body is not valid JSON: an unexpected } at byte ${index}`);
      // Two values with no comma between them end up in one element, which JSON.parse then refuses.
      if (itemStart < 0) itemStart = index;
    }
    if (byte === QUOTE) inString = true;
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      depth++;
      if (depth > MAX_JSON_ARRAY_DEPTH) {
        throw new BatchBodyError(
          'too_deeply_nested',
          `item ${ranges.length} nests arrays or objects more than ${MAX_JSON_ARRAY_DEPTH} levels deep (at byte ${index}); an event needs 3`,
        );
      }
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
      if (depth === 1) itemEnd = index + 1;
    } else if (depth === 1) itemEnd = index + 1;
  }
  if (closedAt < 0) throw new BatchBodyError('not_a_batch', 'the body is not valid JSON: the array is not closed');
  for (let index = closedAt + 1; index < body.length; index++) {
    if (!isJsonWhitespace(body[index]))
      throw new BatchBodyError('not_a_batch', `the body is not valid JSON: data after the array at byte ${index}`);
  }
  if (ranges.length === 0) throw new BatchBodyError('empty_batch', 'the array holds no events');
  return ranges.map(([from, to], index) => {
    const raw = Buffer.from(body.subarray(from, to));
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      // Kept as received: the worker stores it as malformed_json with these exact bytes.
      return { raw, parsed: undefined };
    }
    try {
      return { raw, parsed: JSON.parse(text) as unknown };
    } catch (error) {
      throw new BatchBodyError(
        'not_a_batch',
        `the body is not valid JSON: item ${index}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  });
}
