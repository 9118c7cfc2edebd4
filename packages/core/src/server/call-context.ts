import type { Call } from '../filter/filter.js';
import { checkMetadata, copyMetadata, mergeMetadata, type Metadata, type MetadataLimits } from '../metadata.js';
import type { RpcError } from '../errors/rpc-error.js';
import type { Logger } from '../logger.js';
import type { MethodEntry } from './server.js';

/** What a context needs of its server. */
export interface CallContextOwner {
  readonly metadataLimits: MetadataLimits;
  readonly logger: Logger;
}

const NO_METADATA: Metadata = Object.freeze({}) as Metadata;

/**
 * What a handler gets besides its request: who is calling with what metadata, how much time is
 * left, a signal that fires on cancel or deadline, and a way to send metadata back.
 * Pass it as `parent` to downstream calls so they inherit the deadline and the cancellation.
 */
export class CallContext implements Call {
  readonly side = 'server' as const;
  readonly service: string;
  readonly method: string;
  request: unknown = undefined;
  /** Incoming request metadata. */
  readonly metadata: Metadata;
  /** Absolute deadline (Date.now() scale), 0 for none. */
  readonly deadline: number;
  /** Metadata to send back with the response (see sendMetadata; checked again before it is sent). */
  responseMetadata: Metadata | undefined = undefined;
  /** @internal Set when the handler is invoked: what the server answers as progress. */
  handlerStarted = false;
  private controller: AbortController | undefined = undefined;
  private abortReason: RpcError | undefined = undefined;

  /** @internal The method being served. */
  readonly entry: MethodEntry;
  private readonly owner: CallContextOwner;

  /** @internal Made by the server for each call. */
  constructor(service: string, method: string, metadata: Metadata | undefined, deadline: number, entry: MethodEntry, owner: CallContextOwner) {
    this.entry = entry;
    this.owner = owner;
    this.service = service;
    this.method = method;
    this.metadata = metadata ?? NO_METADATA;
    this.deadline = deadline;
  }

  /** Fires with an RpcError (CANCELLED or DEADLINE_EXCEEDED) as its reason. Created on first use. */
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
    const { metadataLimits, logger } = this.owner;
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
