/** The IPC messages between the harness and the processes it forks (server-process, load-process). */
import type { EchoCounts } from './echo-service.js';
import type { LoadCounts } from './load.js';
import type { ProcessSample } from './process-sample.js';

/** Harness → child. */
export type ToChild = { type: 'sample' } | { type: 'counts' } | { type: 'stop' };

/** Child → harness. */
export type FromChild =
  | { type: 'ready'; address: string; pid: number }
  | { type: 'sample'; sample: ProcessSample; load?: LoadCounts }
  /** A server's Echo runs so far, by method (the answer to 'counts'). */
  | { type: 'counts'; counts: EchoCounts }
  | { type: 'failed'; error: string };

export function send(message: FromChild): void {
  process.send?.(message);
}

/** A child exits when the harness goes away, even if the harness was SIGKILLed: nothing outlives a run. */
export function exitWithHarness(): void {
  process.on('disconnect', () => process.exit(0));
}
