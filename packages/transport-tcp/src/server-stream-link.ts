import type { RpcError } from '@svc/core';
import { errors, FrameKind, messageFields, type Cancellable, type Frame, type StreamReceiver, type StreamSender } from '@svc/core/transport';
import type { FrameConnection } from './frame-connection.js';

const EMPTY = new Uint8Array(0);

/**
 * The server side of one stream on a connection. It sits in the connection's table of calls (so
 * ids, `maxConcurrentCalls` and the drain count streams like calls): a CANCEL for its id cancels
 * it, a lost connection loses it. What core sends goes out as MESSAGE, WINDOW and one END.
 */
export class ServerStreamLink implements Cancellable {
  readonly id: number;
  receiver: StreamReceiver | undefined = undefined;
  private open = true;
  private readonly frames: FrameConnection;
  private readonly ended: (link: ServerStreamLink) => void;

  constructor(id: number, frames: FrameConnection, ended: (link: ServerStreamLink) => void) {
    this.id = id;
    this.frames = frames;
    this.ended = ended;
  }

  readonly sender: StreamSender = {
    message: (body, compression, blocked) => {
      if (this.open) this.frames.sendMessage(FrameKind.MESSAGE, this.id, messageFields(compression, blocked), 0, body);
    },
    window: (credit) => {
      if (this.open) this.frames.send({ kind: FrameKind.WINDOW, id: this.id, credit });
    },
    end: (end) => {
      if (!this.open) return;
      // Written before the link lets go: an END too large for a frame throws, and core sends a smaller one.
      this.frames.sendMessage(FrameKind.END, this.id, end, 0, EMPTY);
      this.close();
    },
    cancel: () => {},
  };

  /** A MESSAGE, WINDOW or END from the client. */
  deliver(frame: Frame): void {
    const receiver = this.receiver;
    if (!this.open || receiver === undefined) return;
    if (frame.kind === FrameKind.MESSAGE) receiver.message(frame.body, frame.compression, frame.blocked);
    else if (frame.kind === FrameKind.WINDOW) receiver.window(frame.credit);
    else receiver.end(frame);
  }

  /** CANCEL from the client. */
  cancel(): void {
    this.lose(errors.cancelledByCaller());
  }

  /** The stream is gone without an END (CANCEL, the connection). */
  lose(error: RpcError): void {
    if (!this.open) return;
    this.close();
    this.receiver?.fail(error);
  }

  private close(): void {
    this.open = false;
    this.ended(this);
  }
}
