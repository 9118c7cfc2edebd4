import type { TlsOptions, ConnectionOptions } from 'node:tls';
import { DEFAULT_MAX_FRAME_SIZE } from '@svc/core/transport';

export interface HeartbeatOptions {
  /** Send a ping after this many ms without sending anything. Default 5 000. */
  interval?: number;
  /** Close the connection after this many ms without receiving anything. Default 15 000. */
  timeout?: number;
}

export interface ReconnectOptions {
  /** First delay after a connection drops. Default 100 ms. */
  initialDelay?: number;
  /** Upper bound of the delay. Default 5 000 ms. */
  maxDelay?: number;
  /** Growth per failed attempt. Default 1.6. */
  multiplier?: number;
  /** Random spread, as a fraction of the delay, each way. Default 0.2. */
  jitter?: number;
}

export interface TcpTransportOptions {
  /** Frames larger than this are refused before buffering. Default 4 MiB. Set the same on both sides. */
  maxFrameSize?: number;
  heartbeat?: HeartbeatOptions | false;
  reconnect?: ReconnectOptions;
  /** Give up a dial after this many ms. Default 5 000. */
  dialTimeout?: number;
  /** TLS for `tls://` addresses: server key and cert when listening, CA (and client cert) when dialing. */
  tls?: { server?: TlsOptions; client?: ConnectionOptions };
  /**
   * Refuse new calls with RESOURCE_EXHAUSTED while more than this many bytes wait to be sent on a
   * connection (a server that reads slower than the client calls). Default 64 MiB.
   */
  maxSendBuffer?: number;
  /** Disable Nagle's algorithm (default true: writes are coalesced by the transport itself). */
  noDelay?: boolean;
  /**
   * Frames written in one tick leave in one socket write, or as soon as this many bytes are
   * queued. Early writes let the peer start on the first calls of a burst while the rest are
   * still being encoded, so both processes work at once. Default 16 KiB; Infinity: one write per tick.
   */
  writeBatchBytes?: number;
}

export interface ResolvedTcpOptions {
  maxFrameSize: number;
  heartbeat: { interval: number; timeout: number } | undefined;
  reconnect: Required<ReconnectOptions>;
  dialTimeout: number;
  tls: { server?: TlsOptions; client?: ConnectionOptions };
  noDelay: boolean;
  maxSendBuffer: number;
  writeBatchBytes: number;
}

export function resolveOptions(options: TcpTransportOptions = {}): ResolvedTcpOptions {
  const heartbeat = options.heartbeat === false ? undefined : { interval: options.heartbeat?.interval ?? 5_000, timeout: options.heartbeat?.timeout ?? 15_000 };
  if (heartbeat && heartbeat.timeout <= heartbeat.interval) {
    throw new TypeError(`heartbeat.timeout (${heartbeat.timeout} ms) must be larger than heartbeat.interval (${heartbeat.interval} ms)`);
  }
  return {
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    heartbeat,
    reconnect: {
      initialDelay: options.reconnect?.initialDelay ?? 100,
      maxDelay: options.reconnect?.maxDelay ?? 5_000,
      multiplier: options.reconnect?.multiplier ?? 1.6,
      jitter: options.reconnect?.jitter ?? 0.2,
    },
    dialTimeout: options.dialTimeout ?? 5_000,
    tls: options.tls ?? {},
    noDelay: options.noDelay ?? true,
    maxSendBuffer: options.maxSendBuffer ?? 64 * 1024 * 1024,
    writeBatchBytes: options.writeBatchBytes ?? 16 * 1024,
  };
}
