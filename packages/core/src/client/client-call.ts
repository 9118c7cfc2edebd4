import type { Call } from '../filter/filter.js';
import type { Metadata } from '../metadata.js';
import { RpcError } from '../errors/rpc-error.js';
import { cancelledByCaller, deadlineExceeded } from '../errors/framework-errors.js';
import type { Channel } from '../transport/transport.js';
import { armDeadline, disarmDeadline, type DeadlineHandle, type DeadlineTarget } from '../deadline-timer.js';

/**
 * One call on the client: its deadline, its cancellation, and the promise the caller holds.
 * The caller's promise settles exactly once, whichever comes first: the answer, the deadline,
 * or the caller's abort. Kept lean: it is allocated once per call.
 */
export class ClientCall implements Call, DeadlineTarget {
  readonly side = 'client' as const;
  readonly service: string;
  readonly method: string;
  request: unknown;
  readonly metadata: Metadata;
  readonly deadline: number;
  /** Send to this address instead of asking the registry. */
  readonly address: string | undefined;
  /** Metadata the server sent back, once the response arrived. */
  responseMetadata: Metadata | undefined = undefined;
  /** Told the response metadata when the call settles. */
  onMetadata: ((metadata: Metadata) => void) | undefined = undefined;
  /** While a request is on the wire: where, to cancel it. */
  channel: Channel | undefined = undefined;
  requestId = 0;
  /** Why the call ended early, if it did. */
  abortReason: RpcError | undefined = undefined;
  settled = false;
  private controller: AbortController | undefined = undefined;
  private resolveFn: ((value: unknown) => void) | undefined = undefined;
  private rejectFn: ((error: RpcError) => void) | undefined = undefined;
  private timer: DeadlineHandle = undefined;
  sweptPrev: DeadlineTarget | undefined = undefined;
  sweptNext: DeadlineTarget | undefined = undefined;
  private timed = false;
  private followed: AbortSignal[] | undefined = undefined;
  private onFollowedAbort: (() => void) | undefined = undefined;

  private readonly createdAt: number;

  constructor(service: string, method: string, request: unknown, metadata: Metadata, deadline: number, address: string | undefined, now: number) {
    this.createdAt = now;
    this.service = service;
    this.method = method;
    this.request = request;
    this.metadata = metadata;
    this.deadline = deadline;
    this.address = address;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
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
    if (signal.aborted) return this.abort(reasonOf(signal));
    this.onFollowedAbort ??= () => {
      const aborted = this.followed!.find((s) => s.aborted);
      if (aborted) this.abort(reasonOf(aborted));
    };
    (this.followed ??= []).push(signal);
    signal.addEventListener('abort', this.onFollowedAbort, { once: true });
  }

  succeed(value: unknown): void {
    if (this.settled) return;
    this.settle();
    this.resolveFn!(value);
  }

  fail(error: RpcError): void {
    if (this.settled) return;
    this.settle();
    this.rejectFn!(error);
  }

  /** Ends the call early (deadline, caller's abort): the server is told, the caller rejected. */
  abort(reason: RpcError): void {
    if (this.settled) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const channel = this.channel;
    this.channel = undefined;
    channel?.cancel(this.requestId);
    this.fail(reason);
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
