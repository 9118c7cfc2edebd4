import type { MethodSerializers } from '../codec/codec.js';
import type { ResolvedPolicy } from './fail-policy.js';
import type { RetryBudget } from './retry-budget.js';
import type { LatencyWindow } from './latency-window.js';

/** What a client works out once per method and keeps: codec, fail policy, budget, latencies. */
export interface MethodState {
  readonly codec: string;
  readonly serializers: MethodSerializers;
  readonly policy: ResolvedPolicy;
  /** The policy for calls made from a handler whose own call is a retry or a hedge (ChainStop). */
  readonly chainStopped: ResolvedPolicy;
  /** The service's retry budget; undefined when the budget is off. */
  readonly budget: RetryBudget | undefined;
  /** failbackup's statistics (latencies, hedge share), made by the first failbackup call of the method. */
  latency: LatencyWindow | undefined;
}
