import { createContextKey, type Context } from '@opentelemetry/api';
import { SamplingDecision, TraceIdRatioBasedSampler, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';

/**
 * Set on the context a client call's span starts under when the client filter has already drawn
 * "sample this new trace" itself (client-telemetry.ts): the SDK must not draw a second time.
 */
export const ROOT_DRAWN = createContextKey('svc: new trace already sampled');

/**
 * The root sampler of `startTelemetry({ sampler: ratio })`: the ratio of new traces, by trace
 * id as TraceIdRatioBasedSampler decides, except for a root the client filter drew itself. The
 * filter draws so that a call it does not sample never reaches the SDK (no ids made twice, no
 * span objects): only the 1 % it samples do, marked, and go through.
 */
export class RootRatioSampler implements Sampler {
  readonly ratio: number;
  private readonly byTraceId: TraceIdRatioBasedSampler;

  constructor(ratio: number) {
    this.ratio = ratio;
    this.byTraceId = new TraceIdRatioBasedSampler(ratio);
  }

  shouldSample(context: Context, traceId: string): SamplingResult {
    if (context.getValue(ROOT_DRAWN) === true) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.byTraceId.shouldSample(context, traceId);
  }

  toString(): string {
    return `RootRatioSampler{${this.ratio}}`;
  }
}
