import { invalidOption } from './nats-errors.js';

/** How a stream over NATS finds out that its peer is gone (nats({ streamHeartbeat })). */
export interface StreamHeartbeatOptions {
  /** A side that sent nothing on a stream for this many ms sends a heartbeat. Default 5 000. */
  interval?: number;
  /** A side that heard nothing on a stream for this many ms ends it with UNAVAILABLE. Default 15 000; more than twice `interval`. */
  timeout?: number;
}

export interface StreamHeartbeat {
  readonly interval: number;
  readonly timeout: number;
}

export const DEFAULT_STREAM_HEARTBEAT: StreamHeartbeat = Object.freeze({ interval: 5_000, timeout: 15_000 });

export function resolveStreamHeartbeat(options: StreamHeartbeatOptions | undefined): StreamHeartbeat {
  const interval = options?.interval ?? DEFAULT_STREAM_HEARTBEAT.interval;
  const timeout = options?.timeout ?? Math.max(DEFAULT_STREAM_HEARTBEAT.timeout, 3 * interval);
  if (!(Number.isFinite(interval) && interval >= 1)) throw invalidOption(`streamHeartbeat.interval must be a number of milliseconds, 1 or more, not ${interval}`);
  // A peer sends at least once in two intervals (a sweep finds it sent something just after the last one).
  if (!(Number.isFinite(timeout) && timeout > 2 * interval)) throw invalidOption(`streamHeartbeat.timeout (${timeout} ms) must be more than twice streamHeartbeat.interval (${interval} ms)`);
  return { interval, timeout };
}

/** What the sweep asks of each open stream, once per interval. */
export interface Swept {
  /** `silentLimit`: the sweeps in a row without a message after which the stream is ended. */
  sweep(silentLimit: number): void;
}

/**
 * One timer for all the streams of a channel or a listener (none per stream or per message):
 * every `interval` it has each stream send a heartbeat if it sent nothing since the last sweep,
 * and end itself if it heard nothing for `timeout`. Runs only while there are streams.
 */
export class StreamSweep {
  private timer: NodeJS.Timeout | undefined = undefined;
  private readonly interval: number;
  private readonly silentLimit: number;
  private readonly streams: () => Swept[];

  constructor(heartbeat: StreamHeartbeat, streams: () => Swept[]) {
    this.interval = heartbeat.interval;
    this.silentLimit = Math.ceil(heartbeat.timeout / heartbeat.interval);
    this.streams = streams;
  }

  /** A stream opened: the timer runs. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.run(), this.interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    const streams = this.streams();
    if (streams.length === 0) return this.stop();
    for (const stream of streams) stream.sweep(this.silentLimit);
  }
}
