import type { MethodSerializers } from '../codec/codec.js';
import type { ResolvedPolicy } from './fail-policy.js';
import type { RetryBudget } from './retry-budget.js';
import type { LatencyWindow } from './latency-window.js';
import type { StreamShape } from '../server/stream-context.js';

/** What a client works out once per method and keeps: codec, fail policy, budget, latencies. */
export interface MethodState {
  readonly codec: string;
  readonly serializers: MethodSerializers;
  /**
   * The stream shape the method's schema declares; undefined for a unary method or without a
   * schema (a descriptor from an svc-gen before the field has none for its streams either).
   */
  readonly declared: StreamShape | undefined;
  readonly policy: ResolvedPolicy;
  /** The policy for calls made from a handler whose own call is a retry or a hedge (ChainStop). */
  readonly chainStopped: ResolvedPolicy;
  /** The service's retry budget; undefined when the budget is off. */
  readonly budget: RetryBudget | undefined;
  /** failbackup's statistics (latencies, hedge share), made by the first failbackup call of the method. */
  latency: LatencyWindow | undefined;
}
