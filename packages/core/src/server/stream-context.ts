import { CallContext, type CallContextOwner } from './call-context.js';
import type { Metadata } from '../metadata.js';
import type { Peer } from '../transport/transport.js';
import type { MethodEntry } from './server.js';

/** Which sides of a stream send many messages, as handlers and filters read it. */
export type StreamShape = 'server' | 'client' | 'bidi';

/** @internal What the server's stream terminal runs: the handler and its messages, to the end. */
export interface StreamServing {
  serve(ctx: StreamContext): Promise<void>;
}

let servingOf!: (ctx: StreamContext) => StreamServing;

/**
 * The context of a stream: a CallContext (filters see a stream as one call, and `next()` settles
 * when the stream ends) that says which shape the stream has. A subclass, so that unary calls
 * carry nothing of streams.
 */
export class StreamContext extends CallContext {
  readonly stream: StreamShape;
  readonly #serving: StreamServing;

  static {
    servingOf = (ctx) => ctx.#serving;
  }

  /** @internal Made by the server for each stream. */
  constructor(shape: StreamShape, serving: StreamServing, service: string, method: string, metadata: Metadata | undefined, deadline: number, peer: Peer | undefined, entry: MethodEntry | undefined, owner: CallContextOwner) {
    super(service, method, metadata, deadline, peer, entry, owner);
    this.stream = shape;
    this.#serving = serving;
  }
}

/** @internal The server's terminal for streams: what runs the stream of `ctx`. */
export function streamServingOf(ctx: CallContext): StreamServing {
  return servingOf(ctx as StreamContext);
}
