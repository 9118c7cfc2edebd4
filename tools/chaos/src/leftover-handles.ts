/**
 * Handles a scenario leaves behind in this process after its client is closed and its processes
 * are gone: a socket or timer that outlives `client.close()` is a leak (a reconnect loop that
 * keeps going, a heartbeat timer never cleared).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export type HandleCounts = Record<string, number>;

export function handleCounts(): HandleCounts {
  const counts: HandleCounts = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/**
 * The kinds of handle that are more numerous than in `before`, once things have had `settleMs`
 * to close. Empty when nothing was left behind.
 */
export async function leftoverHandles(before: HandleCounts, settleMs = 500): Promise<HandleCounts> {
  await sleep(settleMs);
  const after = handleCounts();
  const grown: HandleCounts = {};
  for (const [kind, n] of Object.entries(after)) if (n > (before[kind] ?? 0)) grown[kind] = n - (before[kind] ?? 0);
  return grown;
}
