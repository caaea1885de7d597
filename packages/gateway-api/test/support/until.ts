/**
 * Polls `what` every 100 ms until it returns a truthy value, which is returned; after `ms` it throws,
 * naming `label` and appending `context()` (e.g. the gateway's recent output) to help diagnose.
 */
export async function until<T>(what: () => Promise<T | undefined | false>, ms: number, label: string, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}\n${context()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
