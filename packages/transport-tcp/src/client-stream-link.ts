import { RpcError } from '@svc/core';
import { FrameKind, messageFields, progressFromWire, retryableFromWire, type Compression, type HeaderFields, type ResponseMessage, type StreamEnd, type StreamReceiver, type StreamSender } from '@svc/core/transport';

/** What a stream needs of its channel (tcp-channel.ts). */
export interface StreamChannel {
  sendStreamFrame(id: number, kind: FrameKind, fields: HeaderFields, body: Uint8Array): boolean;
  isDialing(id: number): boolean;
  cancel(id: number): void;
}

const EMPTY = new Uint8Array(0);
const NO_FIELDS = {};

/** What a transport hands back when a stream could not open: its receiver hears why. */
export const NO_STREAM_SENDER: StreamSender = { message() {}, window() {}, end() {}, cancel() {} };

/**
 * The client side of one stream on a TCP channel: what core sends goes out as MESSAGE, WINDOW,
 * END or CANCEL frames of its id; while the connection is still being dialed, they wait here in
 * order (as many as the server's initial credit lets core send). The channel keeps it among its
 * pending calls until the END, so that whatever fails calls fails it too (`onResponse`).
 */
export class ClientStreamLink implements StreamSender {
  readonly id: number;
  readonly receiver: StreamReceiver;
  private readonly channel: StreamChannel;
  private held: { kind: FrameKind; fields: HeaderFields; body: Uint8Array }[] | undefined = undefined;

  constructor(id: number, receiver: StreamReceiver, channel: StreamChannel) {
    this.id = id;
    this.receiver = receiver;
    this.channel = channel;
  }

  /**
   * The channel's way to end a pending call, used for streams too: an error (the connection
   * lost, the channel closed, a GOAWAY's reason) fails the stream; a RESPONSE for its id (a call
   * refused by the server's limits, a server that answered the stream as a call) ends it.
   */
  readonly onResponse = (error: RpcError | undefined, response: ResponseMessage | undefined): void => {
    if (error !== undefined) return this.receiver.fail(error);
    const answer = response!;
    if (answer.status !== 0) {
      return this.receiver.fail(RpcError.fromWire(answer.status, answer.message ?? '', answer.details, answer.metadata, answer.stack, progressFromWire(answer.progress), retryableFromWire(answer.retryable)));
    }
    this.receiver.message(answer.body, answer.compression);
    const end: StreamEnd = { status: 0, metadata: answer.metadata };
    this.receiver.end(end);
  };

  /** The REQUEST was written: what waited for the dial follows it. */
  dialed(): void {
    const held = this.held;
    this.held = undefined;
    if (held === undefined) return;
    for (const frame of held) {
      try {
        this.channel.sendStreamFrame(this.id, frame.kind, frame.fields, frame.body);
      } catch (error) {
        // Too large for a frame: core would have heard it from message(); the stream fails with it.
        this.channel.cancel(this.id);
        this.receiver.fail(RpcError.from(error));
        return;
      }
    }
  }

  message(body: Uint8Array, compression?: Compression, blocked?: boolean): void {
    this.send(FrameKind.MESSAGE, messageFields(compression, blocked), body);
  }

  window(credit: number): void {
    this.send(FrameKind.WINDOW, { credit }, EMPTY);
  }

  end(_end: StreamEnd): void {
    this.send(FrameKind.END, NO_FIELDS, EMPTY);
  }

  cancel(): void {
    this.held = undefined;
    this.channel.cancel(this.id);
  }

  private send(kind: FrameKind, fields: HeaderFields, body: Uint8Array): void {
    if (this.channel.isDialing(this.id)) {
      (this.held ??= []).push({ kind, fields, body });
      return;
    }
    this.channel.sendStreamFrame(this.id, kind, fields, body);
  }
}
