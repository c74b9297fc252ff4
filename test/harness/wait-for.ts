/**
 * Polls `probe` every 200 ms until it gives a value, and returns it: for what the real stack does in
 * its own time (a workflow reaching review, a worker writing a row). Fails after `timeoutMs` (a minute: the suite runs two files at once on two cores), naming
 * `what` it waited for.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
