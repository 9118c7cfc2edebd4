import type { Call } from '../filter/filter.js';
import type { Metadata } from '../metadata.js';
import type { RpcError } from '../errors/rpc-error.js';

/**
 * One call on the client: its deadline, its cancellation, and the promise the caller holds.
 * The caller's promise settles exactly once, whichever comes first: the answer, the deadline,
 * or the caller's abort.
 */
export class ClientCall implements Call {
  readonly side = 'client' as const;
  readonly service: string;
  readonly method: string;
  request: unknown;
  readonly metadata: Metadata;
  readonly deadline: number;
  /** Milliseconds the caller allowed, for error messages; 0 for none. */
  readonly timeoutMs: number;
  /** Send to this address instead of asking the registry. */
  readonly address: string | undefined;
  /** Metadata the server sent back, once the response arrived. */
  responseMetadata: Metadata | undefined = undefined;
  /** Told the response metadata when the call settles. */
  onMetadata: ((metadata: Metadata) => void) | undefined = undefined;
  /** Set by the transport step while a request is on the wire: tells the server to stop. */
  cancelTransport: (() => void) | undefined = undefined;
  /** Why the call ended early, if it did. */
  abortReason: RpcError | undefined = undefined;
  settled = false;
  private controller: AbortController | undefined = undefined;
  private resolveFn: ((value: unknown) => void) | undefined = undefined;
  private rejectFn: ((error: RpcError) => void) | undefined = undefined;
  private cleanup: (() => void) | undefined = undefined;

  constructor(service: string, method: string, request: unknown, metadata: Metadata, deadline: number, timeoutMs: number, address: string | undefined) {
    this.service = service;
    this.method = method;
    this.request = request;
    this.metadata = metadata;
    this.deadline = deadline;
    this.timeoutMs = timeoutMs;
    this.address = address;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  bind(resolve: (value: unknown) => void, reject: (error: RpcError) => void, cleanup: (() => void) | undefined): void {
    this.resolveFn = resolve;
    this.rejectFn = reject;
    this.cleanup = cleanup;
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
    const cancel = this.cancelTransport;
    this.cancelTransport = undefined;
    cancel?.();
    this.fail(reason);
  }

  private settle(): void {
    this.settled = true;
    this.cleanup?.();
    if (this.responseMetadata !== undefined && this.onMetadata !== undefined) this.onMetadata(this.responseMetadata);
  }
}
