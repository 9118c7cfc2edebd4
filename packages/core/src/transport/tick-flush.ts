/**
 * Runs a function once at the end of the current tick (`process.nextTick`), however many times it
 * is asked to during the tick: how a transport coalesces what one tick produced into one piece of
 * work (a TCP connection's socket write, a NATS message of frames, the replies of a tick published
 * together). The peer starts on a burst only once it arrives, and a write or a message per call
 * would cost the sockets, and the NATS server, a multiple of one per tick.
 *
 * Made for the per-call path: asking when a run is already due is a field read and a compare, and
 * the callback handed to `nextTick` is made once, here, rather than a closure per tick. The flag
 * is cleared before `fn` runs, so that what `fn` (or anything after it) queues asks for the next
 * tick's run.
 */
export class TickFlush {
  private due = false;
  private readonly fn: () => void;
  private readonly run = (): void => {
    this.due = false;
    this.fn();
  };

  constructor(fn: () => void) {
    this.fn = fn;
  }

  /** True while a run is due at the end of this tick. */
  get scheduled(): boolean {
    return this.due;
  }

  /** Asks for a run at the end of this tick; nothing more if one is already due. */
  request(): void {
    if (this.due) return;
    this.due = true;
    process.nextTick(this.run);
  }
}
