import type { RpcError } from '../errors/rpc-error.js';
import type { Metadata } from '../metadata.js';

/** Metadata a server sets on an error answer: wait this many ms before retrying, or -1: do not retry. */
export const PUSHBACK_METADATA_KEY = 'svc-retry-pushback-ms';

/** Retries of `not_sent` failures that do not count as attempts, per call (they still need a node not tried). */
const MAX_FREE_RETRIES = 5;

/** The server's pushback: ms to wait (≥ 0), -1 for "do not retry", undefined when absent. Anything unreadable means do not retry, as in gRPC. */
export function pushbackOf(metadata: Metadata | undefined): number | undefined {
  const raw = metadata?.[PUSHBACK_METADATA_KEY];
  if (raw === undefined) return undefined;
  return /^\d{1,9}$/.test(raw) ? Number(raw) : -1;
}

/**
 * The transparent retries of one call or one stream, as gRPC's: a failure that says no handler
 * ran is tried again at once on a node not tried, in every fail mode, as no attempt and at no
 * cost to the budget. `not_sent` (it never left this process) up to 5 times; the first `refused`
 * (a GOAWAY, a server's limit, a shed) once. Never when the error is not `retryable` or the
 * server's pushback says not to. The caller checks that another node may be used at all.
 */
export class TransparentRetries {
  private free = 0;
  private refusedRetried = false;

  /** Whether `error` (with the server's `pushback`, pushbackOf) may be retried so; counts the retry when it may. */
  take(error: RpcError, pushback: number | undefined): boolean {
    if (pushback === -1 || !error.retryable) return false;
    if (error.progress === 'not_sent' && this.free < MAX_FREE_RETRIES) {
      this.free++;
      return true;
    }
    if (error.progress === 'refused' && !this.refusedRetried) {
      this.refusedRetried = true;
      return true;
    }
    return false;
  }
}
