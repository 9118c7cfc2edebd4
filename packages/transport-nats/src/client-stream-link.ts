import type { Msg } from 'nats';
import { RpcError } from '@svc/core';
import { checkedFrameBytes, errors, FrameKind, headerSize, messageFields, progressFromWire, remainingMs, retryableFromWire, type Compression, type Frame, type MetadataLimits, type RequestMessage, type StreamReceiver, type StreamSender } from '@svc/core/transport';
import { noResponders, payloadTooLarge, streamPeerGone, streamPeerSilent, undecodableStream } from './nats-errors.js';
import { StreamInbox } from './stream-inbox.js';
import { SEQ_BYTES } from './stream-message.js';
import { StreamOutbox, type OutboxWire } from './stream-outbox.js';
import type { Swept } from './stream-heartbeat.js';

/** What a client stream needs of its channel's streams (client-streams.ts). */
export interface ClientStreamHost extends OutboxWire {
  readonly address: string;
  /** The instance the channel is addressed to, if any (for the no-responders error). */
  readonly instance: string | undefined;
  readonly heartbeatTimeout: number;
  readonly maxFrameSize: number;
  readonly metadataLimits: MetadataLimits;
  /** The stream is over here: it leaves the channel's table. */
  forget(link: ClientStreamLink): void;
}

const NO_FIELDS = {};
const SERVER = 'the server';

/** What a transport hands back when a stream could not open: its receiver hears why. */
export const NO_STREAM_SENDER: StreamSender = { message() {}, window() {}, end() {}, cancel() {} };

/**
 * The client side of one stream over NATS. Its first message (the REQUEST, and what core sent in
 * the same tick) goes to the service's queue group or the addressed instance; the instance that
 * takes it answers at once from its own subject of the stream, and everything after goes there
 * (until then it waits here, within the server's initial credit). The server's messages arrive
 * on `<inbox>.s.<id>`. It ends with the server's END (or a RESPONSE: the stream was refused),
 * core's CANCEL, or a loss: a gap in the messages, a silent or vanished server, the connection.
 */
export class ClientStreamLink implements StreamSender, Swept {
  readonly id: number;
  private readonly receiver: StreamReceiver;
  private readonly host: ClientStreamHost;
  private readonly service: string;
  private readonly requestBytes: number;
  private readonly inbox: StreamInbox;
  private readonly outbox: StreamOutbox;
  /** The server answered: its subject of the stream is known, frames go there. */
  private accepted = false;
  /** Over for core: the receiver hears nothing more. */
  private over = false;
  /** Cancelled before the server answered: the CANCEL goes once it does (or the heartbeat timeout forgets it). */
  private cancelPending = false;

  /** Throws an RpcError when the REQUEST cannot be written (too large, metadata the wire cannot carry). */
  constructor(id: number, request: RequestMessage, receiver: StreamReceiver, ownSubject: string, host: ClientStreamHost) {
    this.id = id;
    this.receiver = receiver;
    this.host = host;
    this.service = request.service;
    this.inbox = new StreamInbox(SERVER, host.maxFrameSize, host.metadataLimits, undefined, (frame) => this.onFrame(frame));
    this.outbox = new StreamOutbox(host, ownSubject, host.maxFrameSize, (error) => this.fail(this.accepted ? errors.connectionLost(host.address, reasonOf(error)) : errors.notConnected(host.address, reasonOf(error))));
    const timeoutMs = remainingMs(request.deadline);
    this.requestBytes = checkedFrameBytes(headerSize(id, request, timeoutMs), request.body.length, host.maxFrameSize);
    this.outbox.write(FrameKind.REQUEST, id, request, request.body, timeoutMs);
  }

  /** The connection is up: the first message goes to `openSubject`, whole REQUEST first (so it must fit in one). */
  connected(openSubject: string): void {
    if (this.over) return;
    const max = this.host.maxPayload();
    if (this.requestBytes + SEQ_BYTES > max) return this.fail(payloadTooLarge(this.requestBytes + SEQ_BYTES, max, 'not_sent'));
    this.outbox.aim(openSubject, true);
  }

  /** A message on this stream's subject: the server's, or the NATS server's no responders. */
  receive(msg: Msg): void {
    const status = msg.headers;
    if (status !== undefined) {
      if (!(status.hasError && status.code === 503)) return;
      // Nobody took the first message (not_sent), or the server's side is gone.
      if (!this.accepted) return this.fail(noResponders(this.service, this.host.instance));
      return this.fail(streamPeerGone(SERVER));
    }
    if (!this.accepted && msg.reply) {
      // The server's first message: its reply subject is where the rest of the stream goes.
      this.accepted = true;
      this.outbox.aim(msg.reply);
    }
    if (this.cancelPending) return this.release(this.accepted);
    const error = this.inbox.receive(msg.data);
    if (error !== undefined) return this.fail(error);
    // Only a refusal (a RESPONSE) may come without a subject: it ends the stream.
    if (!this.accepted && !this.over) this.fail(undecodableStream(SERVER, 'its first message names no subject to send on'));
  }

  /** One heartbeat period: a heartbeat if nothing was sent, the end if nothing was heard for the timeout. */
  sweep(silentLimit: number): void {
    if (this.inbox.sweep() >= silentLimit) return this.fail(streamPeerSilent(SERVER, this.host.heartbeatTimeout));
    if (this.accepted) this.outbox.sweep();
  }

  /**
   * The stream is lost (a gap, the server silent or gone, a frame it cannot take, the channel
   * closed): the receiver hears `error`, and the server a CANCEL when it may still be there.
   */
  fail(error: RpcError, cancel = true): void {
    if (this.over) {
      if (this.cancelPending) this.release(false);
      return;
    }
    this.over = true;
    this.release(cancel);
    this.receiver.fail(error);
  }

  // StreamSender: what core sends.

  message(body: Uint8Array, compression?: Compression, blocked?: boolean): void {
    if (!this.over) this.outbox.write(FrameKind.MESSAGE, this.id, messageFields(compression, blocked), body);
  }

  window(credit: number): void {
    if (!this.over) this.outbox.write(FrameKind.WINDOW, this.id, { credit });
  }

  end(): void {
    if (!this.over) this.outbox.write(FrameKind.END, this.id, NO_FIELDS);
  }

  cancel(): void {
    if (this.over) return;
    this.over = true;
    this.release(true);
  }

  private onFrame(frame: Frame): void {
    if (this.over) return;
    // A refusal may carry no id: the server had not read one when it refused.
    if (frame.id !== this.id && frame.kind !== FrameKind.RESPONSE) return this.fail(undecodableStream(SERVER, `a frame of stream ${frame.id} on the subject of stream ${this.id}`));
    switch (frame.kind) {
      case FrameKind.MESSAGE:
        return this.receiver.message(frame.body, frame.compression, frame.blocked);
      case FrameKind.WINDOW:
        return this.receiver.window(frame.credit);
      case FrameKind.END:
        this.over = true;
        this.release(false);
        return this.receiver.end(frame);
      case FrameKind.RESPONSE:
        // The server refused the stream (a limit, no such streams), or answered it as a call.
        this.over = true;
        this.release(false);
        if (frame.status !== 0) return this.receiver.fail(RpcError.fromWire(frame.status, frame.message ?? '', frame.details, frame.metadata, frame.stack, progressFromWire(frame.progress), retryableFromWire(frame.retryable)));
        this.receiver.message(frame.body, frame.compression);
        return this.receiver.end({ status: 0, metadata: frame.metadata, violation: frame.violation });
      default:
        if (frame.kind > FrameKind.WINDOW) return this.fail(errors.unknownFrameKind(frame.kind));
        return this.fail(undecodableStream(SERVER, `a frame of kind ${frame.kind}, which a server does not send on a stream`));
    }
  }

  /**
   * Lets the stream go: nothing more is taken in; with `cancel`, the server hears a CANCEL (now,
   * or once it has answered, if the first message left and it has not yet); else nothing more is sent.
   */
  private release(cancel: boolean): void {
    this.inbox.stop();
    if (cancel && this.outbox.started) {
      if (!this.accepted) {
        // Only the CANCEL goes, once the server answers: what waited for the answer is dropped.
        this.cancelPending = true;
        this.outbox.clear();
        return;
      }
      this.cancelPending = false;
      this.outbox.write(FrameKind.CANCEL, this.id, NO_FIELDS);
      this.outbox.finish();
    } else {
      this.cancelPending = false;
      this.outbox.discard();
    }
    this.host.forget(this);
  }
}

function reasonOf(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}
