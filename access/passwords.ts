import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

/**
 * Passwords are stored only as argon2id hashes (memory-hard: 64 MiB and 3 passes per guess; the
 * PHC string carries its salt and parameters, so they can be raised later and old hashes still
 * verify). `argon2` ships prebuilt binaries for this platform inside its npm package.
 */
const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 1 } as const;

export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, HASH_OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;
/**
 * Verifies against a throwaway hash: a login for an unknown or disabled name costs what a real one
 * does, so response times do not tell which names exist.
 */
export async function spendVerification(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(await dummyHash, password);
}

/** A generated password (printed once by `tally users add` when none is given on stdin): 144 random bits. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
