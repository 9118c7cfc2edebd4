import { invalidStreamWindow } from '../errors/framework-errors.js';

/**
 * Every stream starts with this many bytes of credit each way (HTTP/2's initial stream window is
 * the same idea, 65 535). A receiver that wants a larger window grants the difference in a WINDOW
 * frame as the stream opens; it cannot start smaller.
 */
export const INITIAL_STREAM_WINDOW = 64 * 1024;

/**
 * What one message counts against a window: its body and 32 bytes more. Without the extra bytes
 * a peer could send empty MESSAGE frames without end, each costing the receiver a queue entry and
 * none of its window; 32 is about what a frame header and the queue entry take. Both sides count
 * the same way (docs/wire-format.md, flow control).
 */
export const MESSAGE_OVERHEAD = 32;

export function messageCost(bodyLength: number): number {
  return bodyLength + MESSAGE_OVERHEAD;
}

/**
 * The window each side grants a stream unless told otherwise: the initial 64 KiB and 192 KiB more
 * in a WINDOW as the stream opens. With 64 KiB, a stream of 64 KiB messages went one message
 * per round trip (27 % of a raw socket's MiB/s); 256 KiB let it reach 62-64 % (docs/performance.md).
 * A window grows from here while its consumer keeps up (window-budget.ts); this is what each
 * stream starts with, and what a slow consumer's stream keeps. A TCP server bounds what one
 * connection may make it buffer by its maxConcurrentStreams (100).
 */
export const DEFAULT_STREAM_WINDOW = 256 * 1024;

/** A `streamWindow` option, checked: an integer from the initial window up to 2^31 − 1. */
export function resolveStreamWindow(value: number | undefined): number {
  return value === undefined ? DEFAULT_STREAM_WINDOW : checkedWindow('streamWindow', value);
}

/** A window option (`streamWindow`, `maxStreamWindow`), checked: an integer from the initial window up to 2^31 − 1. */
export function checkedWindow(option: 'streamWindow' | 'maxStreamWindow', value: number): number {
  if (!Number.isInteger(value) || value < INITIAL_STREAM_WINDOW || value > 0x7fffffff) throw invalidStreamWindow(option, value, INITIAL_STREAM_WINDOW);
  return value;
}

/**
 * The sending side of one stream's flow control: bytes the peer still takes. A message goes when
 * the credit covers it, or, for a message larger than the peer's window, when every byte sent
 * before has been granted back as far as this side can tell (the credit is at its highest; what
 * the peer granted beyond the initial window looks the same here, so the peer may still hold that
 * much): what the peer buffers stays within its window, or less than its window plus one
 * message. The receiver checks the same rule (inbound-messages.ts), so a peer that ignores it is
 * caught, not buffered.
 */
export class OutboundCredit {
  private credit = INITIAL_STREAM_WINDOW;
  /** The most credit ever held: the peer's whole window, reached again once it has granted back all it got. */
  private full = INITIAL_STREAM_WINDOW;
  private waiter: (() => void) | undefined = undefined;
  private waitingFor = 0;
  private stopped = false;
  /** Since the last message sent: this side had to wait for credit (the MESSAGE's `blocked`). */
  private waited = false;

  /** Whether a message whose body is `bodyLength` bytes may be sent now. */
  allows(bodyLength: number): boolean {
    const cost = messageCost(bodyLength);
    return this.credit >= cost || this.credit >= this.full;
  }

  /**
   * Counts a message sent (call only when allows(bodyLength)). Returns whether the sender had to
   * wait for credit before it, which the MESSAGE tells the receiver (so that it may grow its window).
   */
  spend(bodyLength: number): boolean {
    this.credit -= messageCost(bodyLength);
    const waited = this.waited;
    this.waited = false;
    return waited;
  }

  /** Resolves when a message whose body is `bodyLength` bytes may be sent, or when the stream is over (check after). */
  wait(size: number): Promise<void> {
    if (this.stopped || this.allows(size)) return Promise.resolve();
    this.waited = true;
    return new Promise((resolve) => {
      this.waitingFor = size;
      this.waiter = resolve;
    });
  }

  /** A WINDOW from the peer. */
  grant(bytes: number): void {
    this.credit += bytes;
    if (this.credit > this.full) this.full = this.credit;
    if (this.waiter !== undefined && this.allows(this.waitingFor)) this.wake();
  }

  /** The stream is being opened again elsewhere (a retry): nothing may be sent until it opens (restart). */
  hold(): void {
    this.credit = 0;
    this.full = INITIAL_STREAM_WINDOW;
  }

  /** The stream opened again: the new peer's initial window, as at the start. */
  restart(): void {
    this.credit = this.full = INITIAL_STREAM_WINDOW;
    if (this.waiter !== undefined && this.allows(this.waitingFor)) this.wake();
  }

  /** The stream is over: a sender waiting goes on, sees it, and stops. */
  stop(): void {
    this.stopped = true;
    if (this.waiter !== undefined) this.wake();
  }

  private wake(): void {
    const waiter = this.waiter!;
    this.waiter = undefined;
    waiter();
  }
}
