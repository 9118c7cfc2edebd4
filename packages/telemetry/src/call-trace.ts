import type { Context, Span } from '@opentelemetry/api';
import type { Call } from '@svc/core';
import type { Operation } from './operation.js';

/**
 * What the call filter shares with the attempt filter of the same recorded call: the call's span
 * (the attempts' parent). The attempt filter gets the call as `attempt.call`, the very object the
 * call filter saw. Only recorded calls have one (a sampled 1 % or so), so a WeakMap is cheap
 * enough, and the call objects keep their one shape.
 */
export class CallTrace {
  readonly operation: Operation;
  readonly span: Span;
  /** The context with the call's span in it: the parent of its attempts' spans. */
  readonly context: Context;

  constructor(operation: Operation, span: Span, context: Context) {
    this.operation = operation;
    this.span = span;
    this.context = context;
  }
}

const traces = new WeakMap<Call, CallTrace>();

export function attachTrace(call: Call, trace: CallTrace): void {
  traces.set(call, trace);
}

export function traceOf(call: Call): CallTrace | undefined {
  return traces.get(call);
}
