import type { Msg } from 'nats';
import type { RpcError } from '@svc/core';
import { errors, FrameKind, messageFields, progressToWire, retryableToWire, type Frame, type MetadataLimits, type StreamEnd, type StreamReceiver, type StreamSender } from '@svc/core/transport';
import { streamPeerGone, streamPeerSilent, undecodableStream, undecodableStreamOpen } from './nats-errors.js';
import { StreamInbox, type StreamBudget } from './stream-inbox.js';
import { StreamOutbox, type OutboxWire } from './stream-outbox.js';
import type { Swept } from './stream-heartbeat.js';

/** What a server stream needs of its listener's streams (server-streams.ts). */
export interface ServerStreamHost extends OutboxWire {
  readonly address: string;
  readonly heartbeatTimeout: number;
  /** The stream's first frame arrived: admit it (`accept`) or refuse it. */
  admit(link: ServerStreamLink, request: Frame): void;
  /** Answers a stream that was never admitted with a RESPONSE carrying `error`. */
  refuse(link: ServerStreamLink, error: RpcError): void;
  /** The stream is over: it leaves the listener's tables. */
  forget(link: ServerStreamLink): void;
}

export interface ServerStreamLimits {
  readonly maxFrameSize: number;
  readonly metadata: MetadataLimits;
  readonly budget: StreamBudget;
}

const CLIENT = 'the client';

/**
 * The server side of one stream over NATS, from its first message (which carries the REQUEST)
 * to its END. It has a subject of its own, `svc.strm.<instance>.<stream id>`, where the client
 * sends the rest once the first answer told it so; what core sends goes to the client's
 * `<inbox>.s.<id>`. A CANCEL, a client gone (no responders on its subject) or silent, a gap in
 * its messages or a frame it cannot take end the stream: core's receiver hears it (the handler's
 * signal fires, its generator's `finally` runs), and the client an END when it may still listen.
 */
export class ServerStreamLink implements Swept {
  /** The stream's token in this listener's subjects. */
  readonly streamId: string;
  /** Where the client receives the stream: `<inbox>.s.<id>`. */
  readonly clientSubject: string;
  /** The caller's inbox: whose streams count against maxConcurrentStreams. */
  readonly caller: string;
  /** The client's id of the stream (its frames carry it): set from the REQUEST. */
  clientId = 0;
  receiver: StreamReceiver | undefined = undefined;
  /** Admitted: counted by the listener, served by core. */
  private admitted = false;
  private open = true;
  private readonly host: ServerStreamHost;
  private readonly inbox: StreamInbox;
  private readonly outbox: StreamOutbox;

  constructor(streamId: string, ownSubject: string, clientSubject: string, caller: string, limits: ServerStreamLimits, host: ServerStreamHost) {
    this.streamId = streamId;
    this.clientSubject = clientSubject;
    this.caller = caller;
    this.host = host;
    this.inbox = new StreamInbox(CLIENT, limits.maxFrameSize, limits.metadata, limits.budget, (frame) => this.onFrame(frame));
    this.outbox = new StreamOutbox(host, ownSubject, limits.maxFrameSize, (error) => this.lose(errors.connectionLost(host.address, (error as Error)?.message ?? String(error))));
    this.outbox.aim(clientSubject);
  }

  /** The stream's first message: its REQUEST (whole), and what the client sent in the same tick. */
  start(data: Uint8Array): void {
    const error = this.inbox.receive(data);
    if (this.admitted) {
      if (error !== undefined) this.endWith(error);
      return;
    }
    if (!this.open) return; // refused already
    // Nothing ran: a limit refuses it as it stands, anything else as an opening that does not parse.
    this.open = false;
    this.inbox.stop();
    if (error === undefined) return this.host.refuse(this, undecodableStreamOpen('the message ends before its REQUEST frame does'));
    this.host.refuse(this, error.code === 'RESOURCE_EXHAUSTED' ? error.withProgress('refused') : undecodableStreamOpen(error.message));
  }

  /** The host took the stream: its first answer leaves at the end of this tick, whatever core sends by then. */
  accept(): void {
    this.admitted = true;
    this.outbox.heartbeat();
  }

  /** A later message on the stream's subject: the client's, or the NATS server's no responders. */
  receive(msg: Msg): void {
    const status = msg.headers;
    if (status !== undefined) {
      if (status.hasError && status.code === 503) this.lose(streamPeerGone(CLIENT));
      return;
    }
    const error = this.inbox.receive(msg.data);
    if (error !== undefined) this.endWith(error);
  }

  sweep(silentLimit: number): void {
    if (this.inbox.sweep() >= silentLimit) return this.endWith(streamPeerSilent(CLIENT, this.host.heartbeatTimeout));
    this.outbox.sweep();
  }

  /** What core sends: MESSAGE, WINDOW and one END, to the client. */
  readonly sender: StreamSender = {
    message: (body, compression, blocked) => {
      if (this.open) this.outbox.write(FrameKind.MESSAGE, this.clientId, messageFields(compression, blocked), body);
    },
    window: (credit) => {
      if (this.open) this.outbox.write(FrameKind.WINDOW, this.clientId, { credit });
    },
    end: (end: StreamEnd) => {
      if (!this.open) return;
      // Queued before the link lets go: an END too large for a frame throws, and core sends a smaller one.
      this.outbox.write(FrameKind.END, this.clientId, end);
      this.close();
    },
    cancel: () => {},
  };

  /** The stream is gone without a word to the client (its CANCEL, the client gone, the connection). */
  lose(error: RpcError): void {
    if (!this.open) return;
    this.outbox.discard();
    this.close();
    this.receiver?.fail(error);
  }

  /** The stream ends here with `error`: an END tells the client, core's receiver hears it. */
  endWith(error: RpcError): void {
    if (!this.open) return;
    try {
      this.outbox.write(FrameKind.END, this.clientId, { status: error.codeNumber, message: error.message, progress: progressToWire(error.progress), retryable: retryableToWire(error), metadata: undefined });
    } catch {
      // Cannot happen for these fields; the client then learns it from its heartbeat.
    }
    this.close();
    this.receiver?.fail(error);
  }

  private onFrame(frame: Frame): void {
    if (!this.admitted) {
      if (frame.kind !== FrameKind.REQUEST) {
        this.inbox.stop();
        this.open = false;
        return this.host.refuse(this, undecodableStreamOpen(`its first frame is of kind ${frame.kind}, not a REQUEST`));
      }
      this.clientId = frame.id;
      this.host.admit(this, frame);
      if (!this.admitted) {
        this.open = false;
        this.inbox.stop();
      }
      return;
    }
    const receiver = this.receiver;
    if (!this.open || receiver === undefined) return;
    if (frame.id !== this.clientId) return this.endWith(undecodableStream(CLIENT, `a frame of stream ${frame.id} on the subject of stream ${this.clientId}`));
    switch (frame.kind) {
      case FrameKind.MESSAGE:
        return receiver.message(frame.body, frame.compression, frame.blocked);
      case FrameKind.WINDOW:
        return receiver.window(frame.credit);
      case FrameKind.END:
        return receiver.end(frame);
      case FrameKind.CANCEL:
        return this.lose(errors.cancelledByCaller());
      default:
        if (frame.kind > FrameKind.WINDOW) return this.endWith(errors.unknownFrameKind(frame.kind));
        return this.endWith(undecodableStream(CLIENT, `a frame of kind ${frame.kind} after the stream's REQUEST`));
    }
  }

  /** Over: nothing more taken in, what is queued leaves now, the listener lets go. */
  private close(): void {
    this.open = false;
    this.inbox.stop();
    this.outbox.finish();
    this.host.forget(this);
  }
}
