import { RpcError } from '../errors/rpc-error.js';
import { attemptTimedOut, hedgeLost, noNodeLeft } from '../errors/framework-errors.js';
import type { Metadata } from '../metadata.js';
import type { Terminal } from '../filter/filter.js';
import type { ServiceNode } from './registry.js';
import type { Selector } from './selector.js';
import { Attempt, ATTEMPT_METADATA_KEY, type AttemptOwner } from './attempt.js';
import type { AttemptsInFlight, CallSink, ClientCall } from './client-call.js';
import { backoffDelay, retryableFailure } from './fail-policy.js';
import { LatencyWindow } from './latency-window.js';
import { pushbackOf, TransparentRetries } from './transparent-retry.js';

/** What the runner needs of its client. */
export interface AttemptTransport {
  readonly selector: Selector;
  /** The nodes of a service now (the registry's answer). */
  nodesOf(call: ClientCall): readonly ServiceNode[] | Promise<readonly ServiceNode[]>;
  /** Sends one attempt to its node, reporting to `sink`. */
  transmit(call: ClientCall, attempt: Attempt, sink: CallSink): void;
  /** The attempt filters a call's attempts run, composed; undefined when there are none. */
  attemptChainFor(call: ClientCall): Terminal<Attempt> | undefined;
}

/**
 * The fail mode of one call: starts its attempts, decides after each failure whether and where to
 * try again (docs/fail-modes.md), hedges, keeps to the budget, the pushback and the deadline, and
 * reports the one outcome to the call's sink. Made from the start only when the first attempt
 * already needs one (failbackup, attemptTimeout, attempt filters, a selector that learns);
 * otherwise only once the call's own first attempt has failed (takeOver).
 */
export class AttemptRunner implements AttemptOwner, AttemptsInFlight {
  private readonly client: AttemptTransport;
  private readonly call: ClientCall;
  private readonly sink: CallSink;
  /** Addresses tried so far, in order: its length is the number of the last attempt. */
  private readonly tried: string[] = [];
  private readonly live: Attempt[] = [];
  /** Attempts that count against maxAttempts. */
  private counted = 0;
  private readonly transparent = new TransparentRetries();
  private done = false;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private hedgeTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** When the first attempt started. */
  private firstStartedAt = 0;
  /** Attempts that failed after a handler may have run. */
  private processed = 0;
  /** Whether choose() asked the selector for the node it returned. */
  private chosen = false;

  constructor(client: AttemptTransport, call: ClientCall, sink: CallSink) {
    this.client = client;
    this.call = call;
    this.sink = sink;
    call.attempts = this;
  }

  /** The first attempt. */
  start(): void {
    this.next(false);
  }

  /**
   * Takes over after the call's own first attempt failed on `address` (the plain path of every
   * mode but failbackup), to retry it as its fail mode says.
   */
  takeOver(address: string, error: RpcError): void {
    this.tried.push(address);
    this.counted = 1;
    this.spend(error);
    this.failedWith(error);
  }

  attemptSucceeded(attempt: Attempt, value: unknown): void {
    this.remove(attempt);
    if (attempt.selected) this.client.selector.report!(attempt.node, undefined, performance.now() - attempt.startedAt);
    if (this.done) return;
    const { state } = this.call;
    if (this.call.policy.retries) state.budget?.succeeded();
    // The call's latency, from its first attempt, not the winner's: a hedge that wins is fast
    // because it started late, and counting it would pull the p95 down until most calls hedge
    // (measured: 24 % extra attempts at C = 100 over TCP, instead of about 5 %).
    if (this.firstStartedAt !== 0) state.latency!.record(performance.now() - this.firstStartedAt);
    this.finish();
    this.call.responseMetadata = attempt.responseMetadata;
    // Only when a hedge is still out: an RpcError captures a stack, which is most of a call's cost.
    if (this.live.length > 0) this.cancelLive(hedgeLost());
    this.sink.succeed(value);
  }

  attemptFailed(attempt: Attempt, error: RpcError): void {
    this.remove(attempt);
    if (attempt.selected) this.client.selector.report!(attempt.node, error, performance.now() - attempt.startedAt);
    if (this.done) return;
    this.spend(error);
    if (attempt.responseMetadata !== undefined) this.call.responseMetadata = attempt.responseMetadata;
    this.failedWith(error);
  }

  /** The attempt ran out of its attemptTimeout: cancelled on the wire, and failed as the fail mode decides. */
  private attemptTimedOut(attempt: Attempt, ms: number): void {
    if (attempt.done) return;
    const error = attemptTimedOut(ms);
    attempt.abort(error);
    this.attemptFailed(attempt, error);
  }

  /** A failed attempt takes a token from the budget. What never reached a server costs it nothing, so it does not. */
  private spend(error: RpcError): void {
    if (this.call.policy.retries && error.retryable && error.progress !== 'not_sent') this.call.state.budget?.failed(error);
  }

  /** The call was aborted (deadline, caller): cancel every attempt; the call answers its caller itself. */
  abort(reason: RpcError): void {
    if (this.done) return;
    this.finish();
    this.cancelLive(reason);
  }

  /** Cancels the attempts still in flight; a selector that counts outstanding attempts is told they ended. */
  private cancelLive(reason: RpcError): void {
    const now = performance.now();
    for (const attempt of this.live.splice(0)) {
      attempt.abort(reason);
      if (attempt.selected) this.client.selector.report!(attempt.node, reason, now - attempt.startedAt);
    }
  }

  private failedWith(error: RpcError): void {
    const { policy } = this.call;
    if (this.call.abortReason !== undefined) return;
    const pushback = pushbackOf(error.metadata);
    const elsewhere = this.call.address === undefined && policy.mode !== 'failretry';
    if (error.progress === 'processed') this.processed++;
    // No handler ran (never sent, or refused): tried again elsewhere at once, as no attempt.
    if (elsewhere && this.transparent.take(error, pushback)) {
      this.counted--;
      return this.next(false, error);
    }
    if (pushback !== -1 && error.retryable && policy.retries && this.counted < policy.maxAttempts && retryableFailure(policy, error) && (this.call.state.budget?.allows ?? true)) {
      const delay = pushback ?? (policy.mode === 'failretry' ? backoffDelay(policy, this.counted) : 0);
      return this.later(delay, error);
    }
    // Hedges still in flight may yet answer.
    if (this.live.length > 0) return;
    this.fail(error);
  }

  /** Retries after `delay` ms, unless the deadline comes first (then the call fails with `error`). */
  private later(delay: number, error: RpcError): void {
    if (delay <= 0) return this.next(false, error);
    const { deadline } = this.call;
    if (deadline !== 0 && Date.now() + delay >= deadline) {
      if (this.live.length === 0) this.fail(error);
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.next(false, error);
    }, delay);
  }

  /** Starts the next attempt (a hedge when `hedge`); `lastError` is what the call fails with if no node is left. */
  private next(hedge: boolean, lastError?: RpcError): void {
    if (this.done) return;
    let found: readonly ServiceNode[] | Promise<readonly ServiceNode[]>;
    try {
      found = this.client.nodesOf(this.call);
    } catch (error) {
      return this.failOrWait(RpcError.from(error));
    }
    if (Array.isArray(found)) return this.launch(found, hedge, lastError);
    (found as Promise<readonly ServiceNode[]>).then(
      (nodes) => this.launch(nodes, hedge, lastError),
      (error: unknown) => this.failOrWait(RpcError.from(error)),
    );
  }

  private launch(nodes: readonly ServiceNode[], hedge: boolean, lastError: RpcError | undefined): void {
    if (this.done) return;
    this.chosen = false;
    const node = this.choose(nodes);
    if (node === undefined) return this.failOrWait(lastError ?? noNodeLeft(this.call.service, this.tried));
    const call = this.call;
    this.counted++;
    const number = this.tried.push(node.address);
    call.attemptCount = number;
    const chain = this.client.attemptChainFor(call);
    // What a server sees as the attempt number (ChainStop): 1 + the attempts whose handler may have
    // run (in flight, or failed processed); a retry after not_sent or refused is still the first.
    const seen = 1 + this.live.length + this.processed;
    const metadata = seen === 1 ? (chain === undefined ? call.metadata : { ...call.metadata }) : withAttempt(call.metadata, seen);
    const now = Date.now();
    if (number === 1 && call.policy.mode === 'failbackup') {
      this.firstStartedAt = performance.now(); // fractional: loopback latencies are a few ms
      (call.state.latency ??= new LatencyWindow()).called(call.policy.maxExtraLoad);
    }
    const attempt = new Attempt(this, call, number, hedge, node, metadata);
    // Only what the selector chose is reported to it, so that a selector counting attempts in flight sees each select answered once.
    attempt.selected = this.chosen && this.client.selector.report !== undefined;
    if (attempt.selected) attempt.startedAt = performance.now();
    this.live.push(attempt);
    const perAttempt = call.policy.attemptTimeout;
    if (perAttempt > 0 && (call.deadline === 0 || now + perAttempt < call.deadline)) {
      attempt.ownDeadline = now + perAttempt;
      attempt.timer = setTimeout(() => this.attemptTimedOut(attempt, perAttempt), perAttempt);
    }
    if (chain === undefined) {
      this.client.transmit(call, attempt, attempt);
    } else {
      chain(attempt).then(
        (value) => attempt.succeed(value),
        (error: unknown) => attempt.fail(RpcError.from(error)),
      );
    }
    if (call.policy.mode === 'failbackup') this.armHedge();
  }

  /** The node for the next attempt, by the fail mode's rule; undefined when none may be used. Sets `chosen` when the selector picked it. */
  private choose(nodes: readonly ServiceNode[]): ServiceNode | undefined {
    const call = this.call;
    if (call.address !== undefined) return this.tried.length === 0 || call.policy.mode === 'failretry' ? { address: call.address } : undefined;
    if (nodes.length === 0) return undefined;
    if (this.tried.length === 0) return this.select(nodes);
    if (call.policy.mode === 'failretry') {
      const first = this.tried[0];
      return nodes.find((n) => n.address === first) ?? this.select(nodes);
    }
    const untried = nodes.filter((n) => !this.tried.includes(n.address));
    if (untried.length > 0) return this.select(untried);
    // A hedge or a retry of failbackup may go back to a node already tried; failover never does.
    return call.policy.mode === 'failbackup' ? this.select(nodes) : undefined;
  }

  /** The selector's pick; a list of one needs none, unless the selector learns (it counts what it picked). */
  private select(nodes: readonly ServiceNode[]): ServiceNode {
    const { selector } = this.client;
    if (nodes.length === 1 && selector.report === undefined) return nodes[0]!;
    this.chosen = true;
    return selector.select(nodes, this.call, this.tried);
  }

  private armHedge(): void {
    const { policy, state, deadline } = this.call;
    // A hedge runs the method twice at once: only for methods safe to run twice.
    if (!policy.idempotent || this.hedgeTimer !== undefined || this.counted >= policy.maxAttempts) return;
    const delay = policy.hedgeDelay === 'p95' ? state.latency?.p95() : policy.hedgeDelay;
    if (delay === undefined) return;
    if (deadline !== 0 && Date.now() + delay >= deadline) return;
    // A shared function and the runner as its argument: no closure per hedged call.
    this.hedgeTimer = setTimeout(hedgeDue, delay, this);
  }

  /** The hedge delay passed with no answer: send the next attempt, if the call may still hedge. */
  hedgeNow(): void {
    this.hedgeTimer = undefined;
    const { policy, state } = this.call;
    if (this.done || this.counted >= policy.maxAttempts) return;
    if (!(state.budget?.allows ?? true)) return;
    if (!state.latency!.mayHedge()) return;
    this.next(true);
  }

  private failOrWait(error: RpcError): void {
    if (this.live.length > 0 || this.done) return;
    this.fail(error);
  }

  private fail(error: RpcError): void {
    this.finish();
    this.sink.fail(error);
  }

  private finish(): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.hedgeTimer !== undefined) clearTimeout(this.hedgeTimer);
    this.timer = this.hedgeTimer = undefined;
  }

  private remove(attempt: Attempt): void {
    const i = this.live.indexOf(attempt);
    if (i >= 0) this.live.splice(i, 1);
  }
}

function hedgeDue(runner: AttemptRunner): void {
  runner.hedgeNow();
}

function withAttempt(metadata: Metadata, n: number): Metadata {
  return { ...metadata, [ATTEMPT_METADATA_KEY]: String(n) };
}

