/** Ends an exhaustive switch: a new union member becomes a compile error here, not a silent default. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
