import { randomBytes } from 'node:crypto';

export type KeyCheck =
  | { readonly status: 'new' }
  | { readonly status: 'duplicate'; readonly firstLine: number }
  | { readonly status: 'conflict'; readonly firstLine: number };

/** One answer for every new key (a million events, a million fewer objects to collect). */
const NEW_KEY: KeyCheck = Object.freeze({ status: 'new' });

/** The fields of an event that make its body (all but the key and the signature). */
export interface EventBody {
  readonly schema_version: number;
  readonly customer_id: string;
  readonly timestamp: string;
  readonly unit: string;
  readonly quantity: string;
  readonly metadata: Readonly<Record<string, string>>;
}

const WORDS_PER_SLOT = 5; // key hash, key offset in the arena, 2 words of body digest, first line number + 1
const MAX_LOAD = 0.7;
/** A key's entry in the arena: two bytes of length (the top bit: stored as UTF-16), then its code units. */
const WIDE = 0x8000;

/**
 * The (source, event_id) keys seen in an event file, for rule 1 offline. The keys themselves are
 * kept, so whether a key was seen is decided by comparing them exactly: no hash collision, crafted
 * or not, can make a distinct event a duplicate. An open-addressing table (20 bytes a slot, kept
 * 35–70 % full) points into one byte arena holding each key once (2 bytes + its length, ASCII; twice
 * that for other text): about 40 + 1 × key length bytes a key, ≈ 75–95 MB for a million keys of
 * 35 characters. The slot hash is seeded per run with random bytes, so a file cannot be built to
 * make every key probe the same slots.
 *
 * Beside each key: a 64-bit digest of the body (seeded per run too), which tells a conflicting
 * repeat of a key (id_conflict) from an exact one (a duplicate), and the line where the key was
 * first seen. The digest never decides whether an event is billed: a repeat is dropped either way
 * (the first copy is the event), it only decides whether the file is refused for the conflict.
 */
export class CompactEventKeys {
  private capacity = 1 << 16;
  /** A slot is empty while its line word is 0 (lines are stored + 1). */
  private slots = new Uint32Array(this.capacity * WORDS_PER_SLOT);
  private arena = new Uint8Array(1 << 20);
  private arenaUsed = 0;
  private count = 0;
  private readonly seed0: number;
  private readonly seed1: number;
  private readonly seed2: number;
  private readonly seed3: number;

  constructor(seed: Uint8Array = randomBytes(16)) {
    const view = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
    this.seed0 = view.getUint32(0, true);
    this.seed1 = view.getUint32(4, true);
    this.seed2 = view.getUint32(8, true);
    this.seed3 = view.getUint32(12, true);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held: the table and the key arena. */
  get bytes(): number {
    return this.slots.byteLength + this.arena.byteLength;
  }

  /** Records the key if new; otherwise says whether the body is the same (duplicate) or not (conflict). */
  check(source: string, eventId: string, body: EventBody, line: number): KeyCheck {
    const h = keySlotHash(this.seed0, source, eventId);
    this.digestBody(body);
    const b0 = this.digest0;
    const b1 = this.digest1;
    const mask = this.capacity - 1;
    const slots = this.slots;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const base = slot * WORDS_PER_SLOT;
      if (slots[base + 4] === 0) {
        const offset = this.store(source, eventId);
        slots[base] = h;
        slots[base + 1] = offset;
        slots[base + 2] = b0;
        slots[base + 3] = b1;
        slots[base + 4] = line + 1;
        this.count += 1;
        if (this.count > this.capacity * MAX_LOAD) this.grow();
        return NEW_KEY;
      }
      if (slots[base] === h && this.equals(slots[base + 1] as number, source, eventId)) {
        const firstLine = (slots[base + 4] as number) - 1;
        return slots[base + 2] === b0 && slots[base + 3] === b1
          ? { status: 'duplicate', firstLine }
          : { status: 'conflict', firstLine };
      }
    }
  }

  /** The last body digest (two words), kept in fields so that no array is made per event. */
  private digest0 = 0;
  private digest1 = 0;
  private lane0 = 0;
  private lane1 = 0;

  /**
   * Two 32-bit lanes over each field's length and code units, fields in a fixed order (lengths mark
   * the boundaries); the metadata entries are digested one by one and summed, so their order does
   * not matter and no sort is needed. Sets digest0 and digest1.
   */
  private digestBody(body: EventBody): void {
    this.lane0 = this.seed1 ^ body.schema_version;
    this.lane1 = this.seed2 ^ body.schema_version;
    this.mix(body.customer_id);
    this.mix(body.timestamp);
    this.mix(body.unit);
    this.mix(body.quantity);
    const h0 = this.lane0;
    const h1 = this.lane1;
    let m0 = 0;
    let m1 = 0;
    let entries = 0;
    const metadata = body.metadata;
    for (const key in metadata) {
      if (!Object.hasOwn(metadata, key)) continue;
      this.lane0 = this.seed3;
      this.lane1 = ~this.seed3;
      this.mix(key);
      this.mix(metadata[key] as string);
      // Finished per entry before summing, so that entries cannot cancel each other out linearly.
      let e0 = this.lane0;
      let e1 = this.lane1;
      e0 = Math.imul(e0 ^ (e0 >>> 16), 2246822507) ^ Math.imul(e1 ^ (e1 >>> 13), 3266489909);
      e1 = Math.imul(e1 ^ (e1 >>> 16), 2246822507) ^ Math.imul(e0 ^ (e0 >>> 13), 3266489909);
      m0 = (m0 + e0) | 0;
      m1 = (m1 + e1) | 0;
      entries += 1;
    }
    let d0 = Math.imul(h0 ^ m0 ^ entries, 2654435761);
    let d1 = Math.imul(h1 ^ m1 ^ entries, 1597334677);
    d0 = Math.imul(d0 ^ (d0 >>> 16), 2246822507) ^ Math.imul(d1 ^ (d1 >>> 13), 3266489909);
    d1 = Math.imul(d1 ^ (d1 >>> 16), 2246822507) ^ Math.imul(d0 ^ (d0 >>> 13), 3266489909);
    this.digest0 = d0 >>> 0;
    this.digest1 = d1 >>> 0;
  }

  /** One text into the two lanes: its length (outside the code units' range), then its code units. */
  private mix(text: string): void {
    let h0 = Math.imul(this.lane0 ^ text.length ^ 0x10000, 2654435761);
    let h1 = Math.imul(this.lane1 ^ text.length ^ 0x10000, 1597334677);
    for (let index = 0; index < text.length; index += 1) {
      const unit = text.charCodeAt(index);
      h0 = Math.imul(h0 ^ unit, 2654435761);
      h1 = Math.imul(h1 ^ unit, 1597334677);
    }
    this.lane0 = h0;
    this.lane1 = h1;
  }

  /** Appends `source \0 eventId` to the arena; returns where it starts. */
  private store(source: string, eventId: string): number {
    const length = source.length + 1 + eventId.length;
    if (length >= WIDE) throw new RangeError(`an event key of ${length} characters is too long to keep`);
    // Sized for the wide form, so that a narrow key is written in one pass and a wide one found on the way.
    if (this.arenaUsed + 2 + length * 2 > this.arena.length) {
      const larger = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + 2 + length * 2));
      larger.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = larger;
    }
    const arena = this.arena;
    const offset = this.arenaUsed;
    let at = offset + 2;
    let wide = false;
    for (let index = 0; index < source.length; index += 1) {
      const unit = source.charCodeAt(index);
      if (unit > 0xff) wide = true;
      arena[at++] = unit;
    }
    arena[at++] = 0;
    for (let index = 0; index < eventId.length; index += 1) {
      const unit = eventId.charCodeAt(index);
      if (unit > 0xff) wide = true;
      arena[at++] = unit;
    }
    const header = wide ? length | WIDE : length;
    arena[offset] = header & 0xff;
    arena[offset + 1] = header >>> 8;
    if (wide) {
      at = offset + 2;
      const units = new Uint16Array(length);
      for (let index = 0; index < source.length; index += 1) units[index] = source.charCodeAt(index);
      for (let index = 0; index < eventId.length; index += 1)
        units[source.length + 1 + index] = eventId.charCodeAt(index);
      arena.set(new Uint8Array(units.buffer), at); // little-endian on every platform Node runs on
      at += length * 2;
    }
    this.arenaUsed = at;
    return offset;
  }

  /** Whether the key stored at `offset` is exactly `source \0 eventId`. */
  private equals(offset: number, source: string, eventId: string): boolean {
    const arena = this.arena;
    const header = (arena[offset] as number) | ((arena[offset + 1] as number) << 8);
    if ((header & ~WIDE) !== source.length + 1 + eventId.length) return false;
    let at = offset + 2;
    if ((header & WIDE) !== 0) {
      const unit = (position: number): number =>
        (arena[at + 2 * position] as number) | ((arena[at + 2 * position + 1] as number) << 8);
      for (let index = 0; index < source.length; index += 1) if (unit(index) !== source.charCodeAt(index)) return false;
      if (unit(source.length) !== 0) return false;
      at += 2 * (source.length + 1);
      for (let index = 0; index < eventId.length; index += 1)
        if (unit(index) !== eventId.charCodeAt(index)) return false;
      return true;
    }
    for (let index = 0; index < source.length; index += 1) if (arena[at++] !== source.charCodeAt(index)) return false;
    if (arena[at++] !== 0) return false;
    for (let index = 0; index < eventId.length; index += 1) if (arena[at++] !== eventId.charCodeAt(index)) return false;
    return true;
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
