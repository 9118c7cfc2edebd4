import { metrics, type MeterProvider } from '@opentelemetry/api';
import { resolveFilterOptions } from './filter-options.js';
import { SCOPE_NAME, SCOPE_VERSION } from './instrumentation-scope.js';
import { parseServerAddress } from './node-address.js';
import {
  ATTR_RPC_METHOD,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SVC_BREAKER_STATE,
  ATTR_SVC_SHEDDER_OUTCOME,
  METRIC_SVC_BREAKERS,
  METRIC_SVC_BREAKER_TRANSITIONS,
  METRIC_SVC_SHEDDER_CALLS,
  METRIC_SVC_SHEDDER_DELAY,
  METRIC_SVC_SHEDDER_SHARE,
} from './semconv.js';

/**
 * What this reads of @svc/resilience's circuit breakers (`circuitBreakers()`), by shape, so that
 * telemetry does not depend on the resilience package.
 */
export interface ObservedBreakers {
  stats(): { readonly breakers: number; readonly open: number; readonly halfOpen: number };
  on(event: 'stateChange', listener: (change: { readonly service: string; readonly method: string; readonly address: string; readonly to: string }) => void): () => void;
}

/** What this reads of @svc/resilience's load shedder (`loadShedder()`, `serverResilience().shedder`). */
export interface ObservedShedder {
  state(): { readonly eventLoopDelayMs: number; readonly shedShare: number; readonly accepted: number; readonly refused: number };
}

export interface ObserveResilienceOptions {
  breakers?: ObservedBreakers;
  shedder?: ObservedShedder;
  /** false (or OTEL_SDK_DISABLED=true): nothing is observed. */
  enabled?: boolean;
  /** Default: the global one. */
  meterProvider?: MeterProvider;
}

/**
 * Metrics of @svc/resilience's parts: breakers by state (`svc.resilience.breakers`, gauges read
 * at collection) and their transitions by method, node and new state
 * (`svc.resilience.breaker.transitions`, counted as they happen); the shedder's smoothed
 * event-loop delay in seconds, the share it sheds, and the calls it accepted and refused. Returns
 * the function that stops observing (the transitions' listener goes; gauges read nothing more).
 */
export function observeResilience(options: ObserveResilienceOptions): () => void {
  if (resolveFilterOptions({ enabled: options.enabled, tracing: false }) === undefined) return () => {};
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE_NAME, SCOPE_VERSION);
  let observing = true;
  const stops: (() => void)[] = [];
  const { breakers, shedder } = options;
  if (breakers !== undefined) {
    const byState = meter.createObservableUpDownCounter(METRIC_SVC_BREAKERS, { unit: '{breaker}', description: 'Circuit breakers by state (one per service, method and node).' });
    byState.addCallback((result) => {
      if (!observing) return;
      const { breakers: all, open, halfOpen } = breakers.stats();
      result.observe(all - open - halfOpen, { [ATTR_SVC_BREAKER_STATE]: 'closed' });
      result.observe(open, { [ATTR_SVC_BREAKER_STATE]: 'open' });
      result.observe(halfOpen, { [ATTR_SVC_BREAKER_STATE]: 'halfOpen' });
    });
    const transitions = meter.createCounter(METRIC_SVC_BREAKER_TRANSITIONS, { unit: '{transition}', description: 'Circuit breaker state changes, by the state entered.' });
    stops.push(
      breakers.on('stateChange', (change) => {
        const { address, port } = parseServerAddress(change.address);
        transitions.add(1, {
          [ATTR_RPC_METHOD]: `${change.service}/${change.method}`,
          [ATTR_SERVER_ADDRESS]: address,
          ...(port === undefined ? {} : { [ATTR_SERVER_PORT]: port }),
          [ATTR_SVC_BREAKER_STATE]: change.to,
        });
      }),
    );
  }
  if (shedder !== undefined) {
    const delay = meter.createObservableGauge(METRIC_SVC_SHEDDER_DELAY, { unit: 's', description: "The load shedder's smoothed event-loop delay." });
    const share = meter.createObservableGauge(METRIC_SVC_SHEDDER_SHARE, { unit: '1', description: 'The share of new calls the load shedder refuses now.' });
    const calls = meter.createObservableCounter(METRIC_SVC_SHEDDER_CALLS, { unit: '{call}', description: 'Calls the load shedder let through and refused.' });
    meter.addBatchObservableCallback(
      (result) => {
        if (!observing) return;
        const state = shedder.state();
        result.observe(delay, state.eventLoopDelayMs / 1000);
        result.observe(share, state.shedShare);
        result.observe(calls, state.accepted, { [ATTR_SVC_SHEDDER_OUTCOME]: 'accepted' });
        result.observe(calls, state.refused, { [ATTR_SVC_SHEDDER_OUTCOME]: 'refused' });
      },
      [delay, share, calls],
    );
  }
  return () => {
    observing = false;
    for (const stop of stops.splice(0)) stop();
  };
}
