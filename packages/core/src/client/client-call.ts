import type { Call } from '../filter/filter.js';
import type { Metadata } from '../metadata.js';
import { RpcError } from '../errors/rpc-error.js';
import { cancelledByCaller, deadlineExceeded } from '../errors/framework-errors.js';
import type { Channel } from '../transport/transport.js';
import { Compression } from '../wire/header.js';
import { armDeadline, disarmDeadline, type DeadlineHandle, type DeadlineTarget } from '../deadline-timer.js';
import type { Fallback, ResolvedPolicy } from './fail-policy.js';
import type { MethodState } from './method-state.js';

/** Where a transmission reports: a call, an attempt, or the promise of a filter's next(). */
export interface CallSink {
  succeed(value: unknown): void;
  fail(error: RpcError): void;
}

/** What the transport step needs of whatever it sends: the call itself, or one of its attempts. */
export interface Transmission {
  readonly service: string;
  readonly method: string;
  readonly deadline: number;
  readonly metadata: Metadata;
  /** While its request is on the wire: where, to cancel it. */
  channel: Channel | undefined;
  requestId: number;
  /** Metadata the server sent back, once the response arrived. */
  responseMetadata: Metadata | undefined;
  /** True once it must not be sent any more (settled, aborted). */
  readonly stopped: boolean;
}

/** What aborts the attempts in flight of a call (the fail mode's runner). */
export interface AttemptsInFlight {
  abort(reason: RpcError): void;
}

/**
 * What a client's call filter may read and decide of a call (`side` 'client', `kind` 'call'):
 * cast to it (`call as OutgoingCall`) when the filter needs more than `Call`.
 */
export interface OutgoingCall extends Call {
  readonly side: 'client';
  readonly kind: 'call';
  /**
   * Attempts started so far: 1 for a call sent once, more with retries and hedges (free retries
   * of `not_sent` failures count too), 0 while none was or when none could be. After `next()`
   * settles it is the call's total.
   */
  readonly attemptCount: number;
  /**
   * Whether the observing attempt filters (observingAttemptFilter: attempt spans and the like)
   * run for this call's attempts; default true. A call filter may set it false before `next()`
   * for a call it does not record (a tracer's unsampled call). Then, when no other attempt filter,
   * fail mode or selector needs one, the call takes the direct path: no runner, no attempt objects.
   */
  observeAttempts: boolean;
}

/**
 * One logical call on the client: its deadline, its cancellation, the caller's promise, and the
 * request as encoded once for all its attempts. The caller's promise settles exactly once,
 * whichever comes first: the answer, the deadline, or the caller's abort. With failfast and no
 * attempt filters it is also its own only attempt (a Transmission), so a call costs one object
 * and one promise. Kept lean: it is allocated once per call.
 */
export class ClientCall implements OutgoingCall, DeadlineTarget, Transmission {
  readonly side = 'client' as const;
  readonly service: string;
  readonly method: string;
  request: unknown;
  readonly metadata: Metadata;
  readonly deadline: number;
  /** Send to this address instead of asking the registry. */
  readonly address: string | undefined;
  /** The method's settings and statistics. */
  readonly state: MethodState;
  readonly policy: ResolvedPolicy;
  /** Set by invoke when the call overrides the policy's fallback. */
  fallback: Fallback | undefined;
  /** Metadata the server sent back, once the response arrived. */
  responseMetadata: Metadata | undefined = undefined;
  /** Told the response metadata when the call settles. */
  onMetadata: ((metadata: Metadata) => void) | undefined = undefined;
  /** While a request of the call itself is on the wire: where, to cancel it. */
  channel: Channel | undefined = undefined;
  requestId = 0;
  /** The request encoded (and compressed) once, for every attempt (its codec is the state's). */
  body: Uint8Array | undefined = undefined;
  compression: Compression = Compression.NONE;
  attemptCount = 0;
  observeAttempts = true;
  /** The attempts in flight, when a fail mode runs them. */
  attempts: AttemptsInFlight | undefined = undefined;
  /** The promise of the call filters' innermost next(), settled on abort too. */
  terminal: CallSink | undefined = undefined;
  /** Why the call ended early, if it did. */
  abortReason: RpcError | undefined = undefined;
  settled = false;
  private callerCancelled = false;
  private controller: AbortController | undefined = undefined;
  private resolveFn: ((value: unknown) => void) | undefined = undefined;
  private rejectFn: ((error: RpcError) => void) | undefined = undefined;
  private timer: DeadlineHandle = undefined;
  sweptPrev: DeadlineTarget | undefined = undefined;
  sweptNext: DeadlineTarget | undefined = undefined;
  private timed = false;
  private followed: AbortSignal[] | undefined = undefined;
  private onFollowedAbort: (() => void) | undefined = undefined;

  readonly createdAt: number;

  constructor(service: string, method: string, request: unknown, metadata: Metadata, deadline: number, address: string | undefined, now: number, state: MethodState, policy: ResolvedPolicy) {
    this.createdAt = now;
    this.service = service;
    this.method = method;
    this.request = request;
    this.metadata = metadata;
    this.deadline = deadline;
    this.address = address;
    this.state = state;
    this.policy = policy;
    this.fallback = policy.fallback;
  }

  /** On the prototype, not a field: nothing per call. */
  get kind(): 'call' {
    return 'call';
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get stopped(): boolean {
    return this.settled;
  }

  bind(resolve: (value: unknown) => void, reject: (error: RpcError) => void): void {
    this.resolveFn = resolve;
    this.rejectFn = reject;
  }

  /** Arms the deadline (the caller's timeout, or a parent's deadline if that comes first). */
  startTimer(): void {
    this.timed = true;
    this.timer = armDeadline(this);
  }

  deadlineReached(): void {
    this.timed = false;
    this.abort(deadlineExceeded(this.deadline - this.createdAt));
  }

  /** Cancels this call when `signal` aborts (the caller's signal, or the parent call's). */
  follow(signal: AbortSignal): void {
    if (signal.aborted) return this.cancelBy(signal);
    this.onFollowedAbort ??= () => {
      const aborted = this.followed!.find((s) => s.aborted);
      if (aborted) this.cancelBy(aborted);
    };
    (this.followed ??= []).push(signal);
    signal.addEventListener('abort', this.onFollowedAbort, { once: true });
  }

  succeed(value: unknown): void {
    if (this.settled) return;
    this.settle();
    this.resolveFn!(value);
  }

  /** Rejects the caller's promise, or resolves it with the fallback (never for the caller's own cancel). */
  fail(error: RpcError): void {
    if (this.settled) return;
    this.settle();
    const fallback = this.fallback;
    if (fallback === undefined || this.callerCancelled) return this.rejectFn!(error);
    const value = fallback.value;
    if (typeof value !== 'function') return this.resolveFn!(value);
    try {
      const produced: unknown = (value as (error: RpcError) => unknown)(error);
      if (produced instanceof Promise) produced.then(this.resolveFn, (thrown: unknown) => this.rejectFn!(RpcError.from(thrown)));
      else this.resolveFn!(produced);
    } catch (thrown) {
      this.rejectFn!(RpcError.from(thrown));
    }
  }

  /**
   * Ends the call early (deadline, caller's abort): every attempt in flight is cancelled on the
   * wire, every pending next() of the filters fails with the reason, and the caller is answered.
   */
  abort(reason: RpcError): void {
    if (this.settled) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const channel = this.channel;
    this.channel = undefined;
    channel?.cancel(this.requestId);
    this.attempts?.abort(reason);
    this.fail(reason);
    this.terminal?.fail(reason);
  }

  private cancelBy(signal: AbortSignal): void {
    if (this.settled) return;
    this.callerCancelled = true;
    this.abort(reasonOf(signal));
  }

  private settle(): void {
    this.settled = true;
    if (this.timed) disarmDeadline(this, this.timer);
    if (this.followed !== undefined) for (const s of this.followed) s.removeEventListener('abort', this.onFollowedAbort!);
    if (this.responseMetadata !== undefined && this.onMetadata !== undefined) this.onMetadata(this.responseMetadata);
  }
}

function reasonOf(signal: AbortSignal): RpcError {
  return RpcError.is(signal.reason) ? signal.reason : cancelledByCaller(signal.reason);
}
