import type { Call } from '../filter/filter.js';
import { checkMetadata, copyMetadata, mergeMetadata, type Metadata, type MetadataLimits } from '../metadata.js';
import type { RpcError } from '../errors/rpc-error.js';
import type { Logger } from '../logger.js';
import type { Peer } from '../transport/transport.js';
import type { MethodDefinition } from '../decorators/service-definition.js';
import type { MethodEntry } from './server.js';

/** What a context needs of its server. */
export interface CallContextOwner {
  readonly metadataLimits: MetadataLimits;
  readonly logger: Logger;
}

const NO_METADATA: Metadata = Object.freeze({}) as Metadata;

import { ATTEMPT_METADATA_KEY } from '../client/attempt.js';

/** @internal What the server reads from a context that handlers and filters must not see. */
export interface CallContextInternals {
  /** The method being served; undefined for an unknown service or method. */
  entryOf(ctx: CallContext): MethodEntry | undefined;
  /** Why the call is refused before its handler (the server runs the filters with it). */
  refusalOf(ctx: CallContext): unknown;
  refuse(ctx: CallContext, error: unknown): void;
}

let internals!: CallContextInternals;

/**
 * What a handler gets besides its request: who is calling with what metadata, how much time is
 * left, a signal that fires on cancel or deadline, and a way to send metadata back.
 * Pass it as `parent` to downstream calls so they inherit the deadline and the cancellation.
 */
export class CallContext implements Call {
  readonly side = 'server' as const;
  /** The service and method asked for (as requested, also when the server has no such method). */
  readonly service: string;
  readonly method: string;
  /** The decoded request; undefined while a filter runs for a call whose body could not be read. */
  request: unknown = undefined;
  /** Incoming request metadata. */
  readonly metadata: Metadata;
  /** Absolute deadline (Date.now() scale), 0 for none. */
  readonly deadline: number;
  /** Who sent the call (transport scheme and remote address), when the transport says. */
  readonly peer: Peer | undefined;
  /** Metadata to send back with the response (see sendMetadata; checked again before it is sent). */
  responseMetadata: Metadata | undefined = undefined;
  /** @internal Set when the handler is invoked: what the server answers as progress. */
  handlerStarted = false;
  private controller: AbortController | undefined = undefined;
  private abortReason: RpcError | undefined = undefined;
  // The server's own: not part of what handlers and filters see (not even as a key).
  #entry: MethodEntry | undefined;
  #refusal: unknown = undefined;
  readonly #owner: CallContextOwner;

  static {
    internals = {
      entryOf: (ctx) => ctx.#entry,
      refusalOf: (ctx) => ctx.#refusal,
      refuse: (ctx, error) => {
        ctx.#refusal = error;
      },
    };
  }

  /** @internal Made by the server for each call. */
  constructor(service: string, method: string, metadata: Metadata | undefined, deadline: number, peer: Peer | undefined, entry: MethodEntry | undefined, owner: CallContextOwner) {
    this.#entry = entry;
    this.#owner = owner;
    this.service = service;
    this.method = method;
    this.metadata = metadata ?? NO_METADATA;
    this.deadline = deadline;
    this.peer = peer;
  }

  /**
   * The method's definition (wire name, property, options such as `idempotent` and `timeout`);
   * undefined when the server has no such service or method.
   */
  get definition(): MethodDefinition | undefined {
    return this.#entry?.definition;
  }

  /**
   * Which attempt of the caller's call this is: 1 for the first, n for a retry or hedge the client
   * marked with request metadata `svc-attempt: n` (2 to 5; any other value counts as 1). A call
   * made with `parent: ctx` from an attempt after the first is not retried or hedged again.
   */
  get attempt(): number {
    const value = this.metadata[ATTEMPT_METADATA_KEY];
    // Only the canonical '2'…'5': a client never sends more than 5 attempts, nor a sign or zeros.
    if (typeof value !== 'string' || value.length !== 1) return 1;
    const n = value.charCodeAt(0) - 48;
    return n >= 2 && n <= 5 ? n : 1;
  }

  /** Fires with an RpcError (CANCELLED or DEADLINE_EXCEEDED) as its reason. Created on first use. */
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

  /** True once the call was cancelled or ran out of time. */
  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** Milliseconds left before the deadline; Infinity when there is none. */
  remaining(): number {
    return this.deadline === 0 ? Infinity : Math.max(0, this.deadline - Date.now());
  }

  /**
   * Adds metadata to the response (sent with errors too); may be called more than once before
   * the handler returns. Values must be strings and the whole within the server's caps (see
   * `Metadata`): anything else throws an RpcError naming the key at once, here, and adds nothing.
   */
  sendMetadata(metadata: Metadata): void {
    const { metadataLimits, logger } = this.#owner;
    try {
      checkMetadata(metadata, 'response', metadataLimits); // what is added, naming a bad key
      const before = this.responseMetadata;
      const merged = before === undefined ? copyMetadata(metadata) : mergeMetadata(before, metadata);
      if (before !== undefined) checkMetadata(merged, 'response', metadataLimits); // the whole, against the caps
      this.responseMetadata = merged;
    } catch (error) {
      logger.warn(`${this.service}.${this.method}: ctx.sendMetadata refused: ${(error as Error).message}`);
      throw error;
    }
  }

  /** @internal The server aborts the call; the handler sees it through `signal`. */
  abortWith(reason: RpcError): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

/** @internal The server's access to what a context keeps from handlers and filters. */
export function callContextInternals(): CallContextInternals {
  return internals;
}
