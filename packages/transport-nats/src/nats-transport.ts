import type { Channel, Dispatcher, Listener, Transport } from '@svc/core/transport';
import type { EventTransport } from '@svc/core/transport';
import { subscribeEvents } from './nats-events.js';
import { parseAddress, type NatsAddress } from './address.js';
import type { NatsConnectionOptions } from './connection-options.js';
import { NatsChannel } from './nats-channel.js';
import { cannotListen, invalidOption } from './nats-errors.js';
import { NatsListener, type ListenerLimits } from './nats-listener.js';
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_METADATA_BYTES, DEFAULT_MAX_METADATA_ENTRIES, type MetadataLimits } from '@svc/core/transport';
import { resolveStreamHeartbeat, type StreamHeartbeatOptions } from './stream-heartbeat.js';
import type { StreamLimits } from './server-streams.js';
import { RegistryAnnouncer, type AnnounceOptions } from './registry-announcer.js';
import { servedServices } from './served-services.js';
import { ConnectionPool } from './shared-connection.js';
import { Subjects } from './subjects.js';

export interface NatsTransportOptions extends NatsConnectionOptions {
  /** First token of every subject. Default 'svc'. Clients and servers must agree. */
  subjectPrefix?: string;
  /**
   * NATS servers to use whatever the address names, e.g. the local cluster node on each host
   * first and the other nodes after it (tried in this order); addresses then only select the
   * instance. Default: the servers in the address.
   */
  servers?: string[];
  /**
   * Milliseconds a call made while the connection to NATS is down waits for nats.js to reconnect
   * (to the same server or another node of the cluster) before it fails with UNAVAILABLE
   * (not_sent); never past the call's deadline. Every service and instance is reached over one
   * connection, so a call failed at once could go nowhere else. Calls in flight when the
   * connection drops still fail at once (processed: they may have run). Default 1000; 0 fails
   * at once.
   */
  waitForReconnect?: number;
  /**
   * Register every listener's services in the JetStream KV registry (see natsRegistry), refresh
   * them while it serves and delete them when it drains. `true` for the defaults.
   */
  announce?: AnnounceOptions | boolean;
  /**
   * Calls of one tick to one service travel together as @svc frames, at most this many to a NATS
   * message (and answers likewise), within the server's max_payload. Fewer, larger messages cost
   * the NATS server and both clients much less per call; a message goes to one instance of the
   * queue group, so this is also the grain of load balancing. Default 16; 1 sends each call alone.
   */
  callsPerMessage?: number;
  /**
   * Calls in flight on one listener (all its services, all callers together) beyond which a new
   * call is answered RESOURCE_EXHAUSTED without running: NATS has no connection per caller to
   * limit, so this bounds what a flood of calls can hold. Default 10,000.
   */
  maxConcurrentCalls?: number;
  /**
   * Framed calls one NATS message may carry; a message with more is refused as a whole
   * (RESOURCE_EXHAUSTED), none of its calls run. At least the callsPerMessage of the clients.
   * Default 1,024.
   */
  maxCallsPerMessage?: number;
  /** Metadata entries one call may carry (Svc-Metadata header or frame); beyond: refused. Default core's (DEFAULT_MAX_METADATA_ENTRIES). */
  maxMetadataEntries?: number;
  /** Bytes of metadata keys and values one call may carry; beyond: refused. Default core's (DEFAULT_MAX_METADATA_BYTES). */
  maxMetadataBytes?: number;

  // Streams (docs/transport-nats.md, "Streams").

  /**
   * How a stream finds out that its peer is gone (there is no connection to lose over NATS): each
   * side sends a heartbeat on a stream that sent nothing for `interval` ms, and ends a stream that
   * heard nothing for `timeout` ms with UNAVAILABLE (within timeout + interval). A peer whose
   * process stopped is usually found sooner, by the NATS server's no responders to the next
   * message. Default { interval: 5 000, timeout: 15 000 }; the same on both sides.
   */
  streamHeartbeat?: StreamHeartbeatOptions;
  /**
   * Streams one caller (a client channel, by its inbox) may have open on one listener; one more
   * is refused RESOURCE_EXHAUSTED before its handler runs. Streams also count against
   * maxConcurrentCalls. Default 100.
   */
  maxConcurrentStreams?: number;
  /**
   * Largest stream frame (one message and its header, about 10 bytes more), sent or joined from
   * NATS messages: a larger message fails its stream with RESOURCE_EXHAUSTED. Messages larger than
   * the NATS server's max_payload are split and joined. Default 4 MiB; set the same on both sides.
   */
  maxFrameSize?: number;
  /**
   * Bytes of incomplete stream frames (split over NATS messages, not all arrived) the streams of
   * one listener hold together; the stream whose frame goes over is ended RESOURCE_EXHAUSTED.
   * Default 256 MiB.
   */
  maxBufferedBytes?: number;
}

export const DEFAULT_MAX_CONCURRENT_CALLS = 10_000;
export const DEFAULT_MAX_CALLS_PER_MESSAGE = 1024;
export const DEFAULT_WAIT_FOR_RECONNECT = 1_000;
export const DEFAULT_MAX_CONCURRENT_STREAMS = 100;
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isInteger(value) && value >= 1) && value !== Infinity) throw invalidOption(`${name} must be a whole number, 1 or more, not ${value}`);
  return value;
}

/** The NATS transport, with its own pool of connections. */
export interface NatsTransport extends Transport, EventTransport {
  readonly subjects: Subjects;
  /** @internal for sibling modules (registry announce, events). */
  readonly pool: ConnectionPool;
  /** @internal Where an address leads, with the `servers` override applied. */
  target(address: string): NatsAddress;
}

/**
 * Calls over NATS request/reply, and streams pinned to the instance that took them. Server:
 * `listen('nats://127.0.0.1:4222')` serves the Server's services on that NATS (instances share the
 * load through queue groups). Client: a channel to `nats://127.0.0.1:4222` reaches any instance of
 * the called service, `?instance=<id>` one.
 * Share one transport between a Server and a Client in the same process to share the connection.
 */
export function nats(options: NatsTransportOptions = {}): NatsTransport {
  const subjects = new Subjects(options.subjectPrefix);
  const callsPerMessage = options.callsPerMessage ?? 16;
  if (!(callsPerMessage >= 1)) throw invalidOption(`callsPerMessage must be 1 or more, not ${callsPerMessage}`);
  if (options.writeBatchBytes !== undefined && !(options.writeBatchBytes >= 1)) throw invalidOption(`writeBatchBytes must be 1 or more, not ${options.writeBatchBytes}`);
  const waitForReconnect = options.waitForReconnect ?? DEFAULT_WAIT_FOR_RECONNECT;
  if (!(waitForReconnect >= 0 && Number.isFinite(waitForReconnect))) throw invalidOption(`waitForReconnect must be a number of milliseconds, 0 or more, not ${options.waitForReconnect}`);
  const metadata: MetadataLimits = {
    maxMetadataEntries: positiveInteger('maxMetadataEntries', options.maxMetadataEntries, DEFAULT_MAX_METADATA_ENTRIES),
    maxMetadataBytes: positiveInteger('maxMetadataBytes', options.maxMetadataBytes, DEFAULT_MAX_METADATA_BYTES),
  };
  const streams: StreamLimits = {
    heartbeat: resolveStreamHeartbeat(options.streamHeartbeat),
    maxConcurrentStreams: positiveInteger('maxConcurrentStreams', options.maxConcurrentStreams, DEFAULT_MAX_CONCURRENT_STREAMS),
    maxFrameSize: positiveInteger('maxFrameSize', options.maxFrameSize, DEFAULT_MAX_FRAME_SIZE),
    maxBufferedBytes: positiveInteger('maxBufferedBytes', options.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES),
  };
  const limits: ListenerLimits = {
    callsPerMessage,
    maxConcurrentCalls: positiveInteger('maxConcurrentCalls', options.maxConcurrentCalls, DEFAULT_MAX_CONCURRENT_CALLS),
    maxCallsPerMessage: positiveInteger('maxCallsPerMessage', options.maxCallsPerMessage, DEFAULT_MAX_CALLS_PER_MESSAGE),
    metadata,
    streams,
  };
  const pool = new ConnectionPool(options);
  const target = (address: string): NatsAddress => {
    const parsed = parseAddress(address);
    if (options.servers === undefined) return parsed;
    return { servers: options.servers, key: options.servers.join(','), instance: parsed.instance };
  };
  return {
    schemes: ['nats'],
    subjects,
    pool,
    target,
    async listen(address: string, dispatcher: Dispatcher): Promise<Listener> {
      const where = target(address);
      const services = servedServices(dispatcher);
      const shared = pool.acquire(where.key, where.servers);
      let nc;
      try {
        nc = await shared.ready;
      } catch (error) {
        await pool.release(shared);
        throw cannotListen(address, error);
      }
      const listener = new NatsListener(where, shared, nc, pool, dispatcher, subjects, services, limits);
      await listener.start();
      if (options.announce) {
        const announcer = new RegistryAnnouncer(nc, listener.address, listener.instance, services, options.announce === true ? {} : options.announce);
        try {
          await announcer.start();
        } catch (error) {
          await listener.close();
          throw error;
        }
        const off = shared.on((event) => {
          if (event === 'up') void announcer.refresh().catch(() => {});
        });
        const stop = async (): Promise<void> => {
          off();
          await announcer.stop();
        };
        listener.hooks = { beforeDrain: stop, onClose: stop };
      }
      return listener;
    },
    subscribeEvents(address, subscriptions, deliver) {
      return subscribeEvents(pool, target(address), subjects, subscriptions, deliver, metadata);
    },
    connect(address: string): Channel {
      return new NatsChannel(address, target(address), pool, subjects, callsPerMessage, metadata, waitForReconnect, { heartbeat: streams.heartbeat, maxFrameSize: streams.maxFrameSize, metadataLimits: metadata });
    },
  };
}
