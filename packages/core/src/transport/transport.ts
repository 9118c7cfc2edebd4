import type { Metadata } from '../metadata.js';
import type { Compression } from '../wire/header.js';
import type { RpcError } from '../errors/rpc-error.js';
import type { Logger } from '../logger.js';
import type { ServiceDefinition } from '../decorators/service-definition.js';

/**
 * The seam between core and the ways bytes travel. Core encodes values into bodies and handles
 * deadlines, filters and errors; a transport only moves requests and responses. Core never
 * imports a transport: they are handed in (`new Server({ transport: tcp() })`).
 */
export interface Transport {
  /** Address schemes it serves, e.g. ['tcp', 'tls', 'unix']. The first is the default. */
  readonly schemes: readonly string[];
  /** Starts accepting calls at `address`, handing each to `dispatcher`. */
  listen(address: string, dispatcher: Dispatcher): Promise<Listener>;
  /** A channel to one address. Cheap: it dials lazily and reconnects by itself. */
  connect(address: string): Channel;
}

/**
 * A request as core hands it to a transport and a transport hands it to core. Metadata is checked
 * by core before it is handed to a transport (docs/wire-format.md); what a transport hands to
 * core is a map without Object.prototype (createMetadata, or the frame decoder's).
 */
export interface RequestMessage {
  /** Set by the transport: unique among the calls in flight on its connection. */
  id: number;
  service: string;
  method: string;
  codec: string;
  compression: Compression;
  /** Absolute deadline (Date.now() scale) or 0 for none; travels as remaining milliseconds. */
  deadline: number;
  metadata: Metadata | undefined;
  body: Uint8Array;
  /** Who sent it, as the transport knows it; one object per connection, shared by its calls. */
  peer?: Peer | undefined;
  /**
   * Set by a transport when the request is well-formed but breaks one of its limits (metadata
   * over the caps, nothing of which was kept): the server answers with this error and the
   * handler does not run.
   */
  violation?: RpcError | undefined;
  /** Set when the call opens a stream (StreamKind); absent or 0: a unary call. */
  stream?: number | undefined;
}

/** The far end of a call, as a server sees it (CallContext.peer). */
export interface Peer {
  /** The transport's scheme: 'tcp', 'tls', 'unix', 'nats', 'inproc'. */
  readonly transport: string;
  /** Where the call came from: 'tcp://10.0.0.7:53122', a NATS client's inbox, an inproc address. */
  readonly address: string;
}

export interface ResponseMessage {
  /** 0 for success, else the status code number (see Code / CODE_NUMBERS). */
  status: number;
  message?: string | undefined;
  details?: string | undefined;
  stack?: string | undefined;
  /** On errors: how far the call got, as WireProgress (0 or absent: processed, the safe reading). */
  progress?: number | undefined;
  /** On errors: 1 retryable, 2 not; 0 or absent: the code's default. */
  retryable?: number | undefined;
  metadata: Metadata | undefined;
  codec: string;
  compression: Compression;
  body: Uint8Array;
  /** As on RequestMessage: the client fails the call with this error. */
  violation?: RpcError | undefined;
}

/**
 * Called exactly once per call: with an error when the transport could not deliver the request
 * or the response (connection lost, unavailable), else with the server's response.
 */
export type ResponseHandler = (error: RpcError | undefined, response: ResponseMessage | undefined) => void;

/** The client side of a connection to one address. */
export interface Channel {
  readonly address: string;
  /** Sends the request; returns its id, with which it can be cancelled. */
  call(request: RequestMessage, onResponse: ResponseHandler): number;
  /** The caller gave up: tell the server, and drop the waiter without calling it. */
  cancel(id: number): void;
  /** Closes the channel; calls in flight fail with UNAVAILABLE. */
  close(): Promise<void>;
  /**
   * Opens a stream (`request.stream` set; its body is the request of a server stream, empty
   * otherwise) and returns how to send on it. The transport hands the server's MESSAGE, WINDOW and
   * END frames to `receiver` and calls `receiver.fail` at most once if the stream is lost (the
   * connection, the channel closed); after END or fail it forgets the stream. A transport without
   * streams leaves this out: the client fails such calls with UNIMPLEMENTED (streamsNotSupported).
   */
  openStream?(request: RequestMessage, receiver: StreamReceiver): StreamSender;
}

/** Which sides of a stream send many messages (header field 15). */
export const StreamKind = { SERVER: 1, CLIENT: 2, BIDI: 3 } as const;
export type StreamKind = (typeof StreamKind)[keyof typeof StreamKind];

/**
 * An END frame: the sender is done. From the client it carries nothing (status 0: no more
 * messages); from the server it ends the stream with its status and trailing metadata, as a
 * RESPONSE ends a unary call.
 */
export interface StreamEnd {
  status: number;
  message?: string | undefined;
  details?: string | undefined;
  stack?: string | undefined;
  progress?: number | undefined;
  retryable?: number | undefined;
  metadata: Metadata | undefined;
  /** As on ResponseMessage: the receiver ends the stream with this error. */
  violation?: RpcError | undefined;
}

/**
 * What a transport calls as the frames of one stream arrive from the peer. Credit is counted in
 * core (stream/inbound-messages.ts, stream/outbound-credit.ts), so a transport only moves frames.
 */
export interface StreamReceiver {
  /**
   * A MESSAGE: one message's body, in the stream's codec, compressed as its frame's `compression`
   * says (absent or NONE: as it is); `blocked`: the frame says the peer waited for credit first.
   */
  message(body: Uint8Array, compression?: Compression, blocked?: boolean): void;
  /** A WINDOW: the peer takes `credit` more bytes of messages. */
  window(credit: number): void;
  /** An END from the peer. On the client, the stream is over. */
  end(end: StreamEnd): void;
  /** The stream is lost without an END (connection lost, channel or listener closed, CANCEL on the server). At most once; nothing follows. */
  fail(error: RpcError): void;
}

/** How core sends on one stream. Methods called after the stream is over do nothing. */
export interface StreamSender {
  /**
   * One MESSAGE, its frame's `compression` set when the body is compressed and `blocked` when this
   * side waited for credit before it; throws an RpcError (frameTooLarge) when the body does not fit in a frame.
   */
  message(body: Uint8Array, compression?: Compression, blocked?: boolean): void;
  /** One WINDOW granting the peer `credit` more bytes. */
  window(credit: number): void;
  /** One END: the client's says it sends no more; the server's ends the stream (the transport forgets it). */
  end(end: StreamEnd): void;
  /** Client only: CANCEL; the transport forgets the stream. */
  cancel(): void;
}

/** Where a transport sends the response of a dispatched request. */
export interface ReplyTarget {
  reply(id: number, response: ResponseMessage): void;
}

/** A dispatched call the transport can cancel (the client cancelled or disconnected). */
export interface Cancellable {
  cancel(): void;
}

/** The server side of core, as transports see it. */
export interface Dispatcher {
  dispatch(request: RequestMessage, replyTo: ReplyTarget): Cancellable;
  /**
   * A REQUEST with `stream` set: core serves it and sends on `sender` (messages, windows, one
   * END). The transport hands the client's MESSAGE, WINDOW and END frames to the receiver it gets
   * back, CANCEL as `fail(cancelledByCaller())` and a lost connection as `fail(connectionLost)`.
   * Optional so that dispatchers made by hand for tests need not stream.
   */
  dispatchStream?(request: RequestMessage, sender: StreamSender): StreamReceiver;
  /** Where a transport tells the operator what it had to adapt to (the Server's logger). */
  readonly logger?: Logger;
  /** The services it serves (names, versions, methods), for transports that announce them. */
  readonly serviceDefinitions?: readonly ServiceDefinition[];
}

export interface Listener {
  /** The bound address, with the real port when 0 was asked for. */
  readonly address: string;
  /**
   * Stops accepting and tells every peer to go away (GOAWAY). Peers finish their calls and
   * close; the promise settles when every connection has closed.
   */
  drain(): Promise<void>;
  /** Closes every connection now. */
  close(): Promise<void>;
}

/** The scheme of an address: 'tcp://h:p' → 'tcp'; a bare 'h:p' has none (''). */
export function schemeOf(address: string): string {
  const i = address.indexOf('://');
  return i < 0 ? '' : address.slice(0, i);
}

/** Picks the transport for an address; a bare address goes to the first transport. */
export function transportFor(transports: readonly Transport[], address: string): Transport | undefined {
  const scheme = schemeOf(address);
  if (scheme === '') return transports[0];
  return transports.find((t) => t.schemes.includes(scheme));
}
