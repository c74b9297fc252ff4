import { randomBytes } from 'node:crypto';

export type KeyCheck =
  | { readonly status: 'new' }
  | { readonly status: 'duplicate'; readonly firstLine: number }
  | { readonly status: 'conflict'; readonly firstLine: number };

/** One answer for every new key (a million events, a million fewer objects to collect). */
const NEW_KEY: KeyCheck = Object.freeze({ status: 'new' });

/** The fields of an event that make its identity (the key) and its body (all but the key and the signature). */
export interface KeyedEvent {
  readonly source: string;
  readonly event_id: string;
  readonly schema_version: number;
  readonly customer_id: string;
  readonly timestamp: string;
  readonly unit: string;
  readonly quantity: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Where the keys' first copies are read back from: the event file itself. */
export interface FirstCopies {
  /** The text of the line of `length` bytes at byte `offset` of the file, a line the scan has read before. */
  readonly readBack: (offset: number, length: number) => string;
  /** That line's event, checked as the scan checks every line; undefined when it is not a valid event. */
  readonly parse: (text: string) => KeyedEvent | undefined;
}

/** The first copy of a key is no longer what the scan read there: the file changed while it was read. */
export class EventFileChangedError extends Error {
  constructor(readonly firstLine: number) {
    super(`line ${firstLine} changed while the file was read (it no longer holds the event read there); run again`);
  }
}

const WORDS_PER_SLOT = 5; // key hash, first copy's byte offset (low 32 bits, the rest), its length, its line + 1
const MAX_LOAD = 0.7;
const TWO_TO_32 = 2 ** 32;

/**
 * The (source, event_id) keys seen in an event file, for rule 1 offline. An open-addressing table
 * (20 bytes a slot, kept 35–70 % full: ≈ 40 MB for a million keys) holds, per key, a seeded 32-bit
 * hash and where its first copy is in the file (byte offset, length, line) — not the key itself.
 * When an event's hash meets a stored one, the first copy's line is read back from the file and
 * compared: the same text is an exact repeat (a duplicate); otherwise both are compared as events,
 * the keys exactly (a distinct key whose hash collides is a new event: no collision, crafted or not,
 * can drop an event from the invoice) and then the bodies (all but the key and the signature,
 * metadata in any order): the same body is a duplicate, another one a conflict (`id_conflict`).
 *
 * Nothing is hashed or stored per event beyond the 32-bit hash and the position; reading back is paid
 * per repeat only (about 1 % of events in a real file; the caller reads a block at a time, so a file
 * sent twice costs a read per block of first copies). The hash is seeded per run with random bytes,
 * so a file cannot be built to make every key probe the same slots or read back lines.
 */
export class CompactEventKeys {
  private capacity = 1 << 16;
  /** A slot is empty while its line word is 0 (lines are stored + 1). */
  private slots = new Uint32Array(this.capacity * WORDS_PER_SLOT);
  private count = 0;
  private readonly seed: number;

  constructor(
    private readonly firstCopies: FirstCopies,
    seed: Uint8Array = randomBytes(4),
  ) {
    this.seed = new DataView(seed.buffer, seed.byteOffset, seed.byteLength).getUint32(0, true);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held: the table. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  /**
   * Records the event's key with where its line is (`text`, `length` bytes at byte `offset`, line
   * number `line`) if the key is new; otherwise says whether the body is the same (duplicate) or not
   * (conflict), and where the key was first seen.
   */
  check(event: KeyedEvent, text: string, line: number, offset: number, length: number): KeyCheck {
    const h = keySlotHash(this.seed, event.source, event.event_id);
    const mask = this.capacity - 1;
    const slots = this.slots;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const base = slot * WORDS_PER_SLOT;
      if (slots[base + 4] === 0) {
        slots[base] = h;
        slots[base + 1] = offset >>> 0;
        slots[base + 2] = Math.floor(offset / TWO_TO_32);
        slots[base + 3] = length;
        slots[base + 4] = line + 1;
        this.count += 1;
        if (this.count > this.capacity * MAX_LOAD) this.grow();
        return NEW_KEY;
      }
      if (slots[base] !== h) continue;
      const firstLine = (slots[base + 4] as number) - 1;
      const first = this.firstCopies.readBack(
        (slots[base + 2] as number) * TWO_TO_32 + (slots[base + 1] as number),
        slots[base + 3] as number,
      );
      // A repeat sent again byte for byte (the usual retry) needs no parsing.
      if (first === text) return { status: 'duplicate', firstLine };
      const earlier = this.firstCopies.parse(first);
      if (earlier === undefined) throw new EventFileChangedError(firstLine);
      if (earlier.source !== event.source || earlier.event_id !== event.event_id) continue; // another key, same hash
      return sameBody(earlier, event) ? { status: 'duplicate', firstLine } : { status: 'conflict', firstLine };
    }
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldCapacity = this.capacity;
    this.capacity *= 2;
    const slots = new Uint32Array(this.capacity * WORDS_PER_SLOT);
    this.slots = slots;
    const mask = this.capacity - 1;
    for (let old = 0; old < oldCapacity; old += 1) {
      const base = old * WORDS_PER_SLOT;
      if (oldSlots[base + 4] === 0) continue;
      let slot = (oldSlots[base] as number) & mask;
      while (slots[slot * WORDS_PER_SLOT + 4] !== 0) slot = (slot + 1) & mask;
      for (let word = 0; word < WORDS_PER_SLOT; word += 1)
        slots[slot * WORDS_PER_SLOT + word] = oldSlots[base + word] as number;
    }
  }
}

/** Whether two events have the same body: every field but the key and the signature, metadata in any order. */
function sameBody(a: KeyedEvent, b: KeyedEvent): boolean {
  if (
    a.schema_version !== b.schema_version ||
    a.customer_id !== b.customer_id ||
    a.timestamp !== b.timestamp ||
    a.unit !== b.unit ||
    a.quantity !== b.quantity
  )
    return false;
  let entries = 0;
  for (const key in a.metadata) {
    if (!Object.hasOwn(a.metadata, key)) continue;
    if (!Object.hasOwn(b.metadata, key) || b.metadata[key] !== a.metadata[key]) return false;
    entries += 1;
  }
  for (const key in b.metadata) if (Object.hasOwn(b.metadata, key)) entries -= 1;
  return entries === 0;
}

/**
 * The 32-bit slot hash of a key under a seed (exported for the test that makes two keys collide):
 * a multiplicative pass over the code units, the separator outside their range, a final mix.
 */
export function keySlotHash(seed: number, source: string, eventId: string): number {
  let h = seed;
  for (let index = 0; index < source.length; index += 1) h = Math.imul(h ^ source.charCodeAt(index), 0x9e3779b1);
  h = Math.imul(h ^ 0x10000, 0x9e3779b1);
  for (let index = 0; index < eventId.length; index += 1) h = Math.imul(h ^ eventId.charCodeAt(index), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae3d);
  return (h ^ (h >>> 16)) >>> 0;
}
