import type { Call } from '../filter/filter.js';
import type { Metadata } from '../metadata.js';
import type { RpcError } from '../errors/rpc-error.js';
import type { Channel } from '../transport/transport.js';
import type { ServiceNode } from './registry.js';
import type { CallSink, ClientCall, Transmission } from './client-call.js';

/**
 * What an attempt filter (ClientOptions.attemptFilters) sees: one try of a call on one node. It
 * may add to `metadata` (this attempt's own copy) but not change the request, which was encoded
 * once for all attempts. Its `signal` fires when the attempt is cancelled: the call was, or
 * another attempt won the hedge.
 */
export interface AttemptCall extends Call {
  /** 1 for the first try, then 2, 3, … (retries and hedges alike). */
  readonly attempt: number;
  /** True for a hedge: sent while an earlier attempt was still waiting for its answer. */
  readonly hedge: boolean;
  /** The node this attempt goes to, as the registry knows it. */
  readonly node: ServiceNode;
  /** The logical call this attempt belongs to. */
  readonly call: Call;
}

/** Receives what its attempts come to (the fail mode's runner). */
export interface AttemptOwner {
  attemptSucceeded(attempt: Attempt, value: unknown): void;
  attemptFailed(attempt: Attempt, error: RpcError): void;
}

/** Metadata key carrying the attempt number on every attempt after the first (ChainStop). */
export const ATTEMPT_METADATA_KEY = 'svc-attempt';

/** One try of a call: its node, its request id on the wire, its response metadata. */
export class Attempt implements AttemptCall, Transmission, CallSink {
  readonly side = 'client' as const;
  readonly attempt: number;
  readonly hedge: boolean;
  readonly node: ServiceNode;
  readonly metadata: Metadata;
  /**
   * performance.now() when it started, for the selector's report (selectors learn latencies below a
   * millisecond); read only when `selected`, so set only then: a clock read less per attempt otherwise.
   */
  startedAt = 0;
  /** Whether the selector chose it (a pinned address or failretry's same node is not chosen), so only those are reported. */
  selected = false;
  channel: Channel | undefined = undefined;
  requestId = 0;
  responseMetadata: Metadata | undefined = undefined;
  /** The promise of the attempt filters' innermost next(), settled on abort too. */
  terminal: CallSink | undefined = undefined;
  /** Once it succeeded, failed or was aborted. */
  done = false;
  /** Set when the policy has an attemptTimeout: this attempt's own deadline. */
  ownDeadline = 0;
  /** The attemptTimeout timer. */
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /**
   * Set for a call's first attempt sent without a runner (the client is its owner): where its
   * outcome goes, the sink the call itself would have reported to.
   */
  sink: CallSink | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private abortReason: RpcError | undefined = undefined;
  private readonly owner: AttemptOwner;
  private readonly parent: ClientCall;

  constructor(owner: AttemptOwner, call: ClientCall, number: number, hedge: boolean, node: ServiceNode, metadata: Metadata) {
    this.owner = owner;
    this.parent = call;
    this.attempt = number;
    this.hedge = hedge;
    this.node = node;
    this.metadata = metadata;
  }

  get call(): Call {
    return this.parent;
  }
  get service(): string {
    return this.parent.service;
  }
  get method(): string {
    return this.parent.method;
  }
  get request(): unknown {
    return this.parent.request;
  }
  set request(_value: unknown) {
    // The request was encoded once for every attempt; a change here would reach no wire.
    throw new TypeError('an attempt filter cannot replace the request; use a call filter (ClientOptions.filters)');
  }
  /** The call's deadline, or the attempt's own when attemptTimeout ends it sooner. */
  get deadline(): number {
    return this.ownDeadline !== 0 && (this.parent.deadline === 0 || this.ownDeadline < this.parent.deadline) ? this.ownDeadline : this.parent.deadline;
  }
  get stopped(): boolean {
    return this.done;
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

  succeed(value: unknown): void {
    if (this.done) return;
    this.end();
    this.owner.attemptSucceeded(this, value);
  }

  fail(error: RpcError): void {
    if (this.done) return;
    this.end();
    this.owner.attemptFailed(this, error);
  }

  /** Cancels it on the wire and fails the filters' pending next() with the reason; reports nothing. */
  abort(reason: RpcError): void {
    if (this.done) return;
    this.end();
    this.abortReason = reason;
    this.controller?.abort(reason);
    const channel = this.channel;
    this.channel = undefined;
    channel?.cancel(this.requestId);
    this.terminal?.fail(reason);
  }

  private end(): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
