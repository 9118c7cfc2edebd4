/** Waits until `condition()` holds, looking every 5 ms; throws when `ms` pass first. For tests that wait for an event rather than a fixed time. */
export async function until(condition: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits until `value()` stays the same for `quietMs` (a producer that stopped, its window spent); throws when `ms` pass first. */
export async function steady(value: () => number, quietMs = 25, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  let last = value();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > end) throw new Error(`the value kept changing for ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}
