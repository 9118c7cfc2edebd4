import type { TlsOptions, ConnectionOptions } from 'node:tls';
import { DEFAULT_MAX_FRAME_SIZE, errors } from '@svc/core/transport';

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

  // Limits against hostile or broken peers. Each has a safe default; Infinity turns one off.

  /**
   * A frame whose first bytes have arrived must be complete within this many ms, or the
   * connection is closed after a GOAWAY (DEADLINE_EXCEEDED) that says so: a peer cannot hold a
   * connection and its buffer by trickling a frame. Checked by the connection's one timer, so the
   * close comes up to half the shortest timer period late. Default 10 000 (a 4 MiB frame then needs
   * about 420 KB/s); raise it for large frames on slow links.
   */
  frameTimeout?: number;
  /**
   * Server: the most bytes of incomplete frames all connections of one listener hold together.
   * The connection whose bytes go over is closed after a GOAWAY (RESOURCE_EXHAUSTED); the others
   * are untouched. Default 256 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Server: connections accepted at once by one listener. One more is told why in a GOAWAY
   * (RESOURCE_EXHAUSTED) and closed before any of its calls runs; the others keep working.
   * Default 10 000.
   */
  maxConnections?: number;
  /**
   * Server: calls in flight on one connection (like HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS).
   * A call beyond it is answered RESOURCE_EXHAUSTED at once, its handler never runs, and the
   * connection stays. Default 10 000 (the benchmark runs 1 000 over one connection).
   */
  maxConcurrentCalls?: number;
  /**
   * Server: streams open at once on one connection (they count as calls too). Each may hold its
   * stream window of the client's messages here, so this bounds what one connection can make the
   * server buffer: streams × window (100 × 256 KiB = 25 MiB by default). A stream beyond it is
   * refused RESOURCE_EXHAUSTED before its handler runs. Default 100.
   */
  maxConcurrentStreams?: number;
  /**
   * Server: when more than this many bytes of responses wait to be sent on a connection (its peer
   * reads slower than it calls), the server stops reading that connection's requests until they
   * have left. Default 8 MiB.
   */
  maxReplyBuffer?: number;
  /**
   * Both sides: a connection with bytes waiting to be sent whose peer takes none of them for this
   * many ms is closed (UNAVAILABLE), so a peer that stops reading cannot hold it. Default 15 000.
   */
  stallTimeout?: number;
  /**
   * Metadata entries one received frame may carry. A request with more is answered
   * RESOURCE_EXHAUSTED without its handler running (a response with more fails its call), none of
   * it is kept, and the connection stays. Default 64 (core's DEFAULT_MAX_METADATA_ENTRIES).
   */
  maxMetadataEntries?: number;
  /** The same for the bytes of metadata keys and values, in UTF-8. Default 16 KiB (DEFAULT_MAX_METADATA_BYTES). */
  maxMetadataBytes?: number;
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
  frameTimeout: number;
  maxBufferedBytes: number;
  maxConnections: number;
  maxConcurrentCalls: number;
  maxConcurrentStreams: number;
  maxReplyBuffer: number;
  stallTimeout: number;
  maxMetadataEntries: number | undefined;
  maxMetadataBytes: number | undefined;
}

export function resolveOptions(options: TcpTransportOptions = {}): ResolvedTcpOptions {
  const heartbeat = options.heartbeat === false ? undefined : { interval: options.heartbeat?.interval ?? 5_000, timeout: options.heartbeat?.timeout ?? 15_000 };
  if (heartbeat && heartbeat.timeout <= heartbeat.interval) {
    throw errors.invalidTransportOption(`heartbeat.timeout (${heartbeat.timeout} ms) must be larger than heartbeat.interval (${heartbeat.interval} ms)`);
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
    frameTimeout: positive('frameTimeout', options.frameTimeout ?? 10_000),
    maxBufferedBytes: positive('maxBufferedBytes', options.maxBufferedBytes ?? 256 * 1024 * 1024),
    maxConnections: positive('maxConnections', options.maxConnections ?? 10_000),
    maxConcurrentCalls: positive('maxConcurrentCalls', options.maxConcurrentCalls ?? 10_000),
    maxConcurrentStreams: positive('maxConcurrentStreams', options.maxConcurrentStreams ?? 100),
    maxReplyBuffer: positive('maxReplyBuffer', options.maxReplyBuffer ?? 8 * 1024 * 1024),
    stallTimeout: positive('stallTimeout', options.stallTimeout ?? 15_000),
    maxMetadataEntries: options.maxMetadataEntries,
    maxMetadataBytes: options.maxMetadataBytes,
  };
}

/** A limit must be a positive number (Infinity turns it off); 0 or NaN would refuse everything or nothing silently. */
function positive(name: string, value: number): number {
  if (!(value > 0)) throw errors.invalidTransportOption(`${name} must be a positive number (Infinity turns the limit off), got ${value}`);
  return value;
}
