/** Waits until `condition()` holds, looking every 5 ms; throws when `ms` pass first. For tests that wait for an event rather than a fixed time. */
export async function until(condition: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
