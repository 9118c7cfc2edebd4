import type { Codec, MethodSerializers } from '../codec/codec.js';
import { jsonCodec } from '../codec/json-codec.js';
import { Compressor, decompress, type CompressionOptions } from '../codec/compression.js';
import { composeFilters, type Call, type Filter, type Terminal } from '../filter/filter.js';
import { RpcError } from '../errors/rpc-error.js';
import * as errors from '../errors/framework-errors.js';
import { Compression } from '../wire/header.js';
import type { Metadata } from '../metadata.js';
import { transportFor, type Channel, type RequestMessage, type ResponseMessage, type Transport } from '../transport/transport.js';
import type { Registry, ServiceNode } from './registry.js';
import { roundRobin, type Selector } from './selector.js';
import { ClientCall } from './client-call.js';
import { publishOn, type PublishOptions } from '../events/publish.js';
import { noEventAddress } from '../events/event-errors.js';

export interface ClientOptions {
  /** One transport or several; each address goes to the transport of its scheme. */
  transport: Transport | readonly Transport[];
  /** Where service addresses come from. */
  registry: Registry;
  /** How one node is picked among several. Default round robin. */
  selector?: Selector;
  /** Client filters, outermost first, composed once. */
  filters?: readonly Filter[];
  /** Codecs in order of preference; the first that can carry a method is used. JSON is the last resort. */
  codecs?: readonly Codec[];
  /** Compress request bodies above a threshold. */
  compression?: CompressionOptions;
  /** Default per-call timeout in ms. Default 30 000; 0 means no deadline. */
  timeout?: number;
  /** Where publish() sends events, e.g. 'nats://127.0.0.1:4222' or 'inproc://bus'. */
  eventAddress?: string;
}

export interface CallOptions {
  /** Milliseconds the call may take, end to end. Overrides the client's default; 0 for none. */
  timeout?: number;
  /** Request metadata. */
  metadata?: Metadata;
  /** Aborting it cancels the call: the caller gets CANCELLED and the handler's signal fires. */
  signal?: AbortSignal;
  /**
   * The CallContext of the handler making this call (or any call): the deadline is the smaller
   * of the two, and cancelling the parent cancels this call.
   */
  parent?: Pick<Call, 'deadline' | 'signal'>;
  /** Receives the metadata the server sent back (also on errors, which carry it as well). */
  onMetadata?: (metadata: Metadata) => void;
  /** Call this node rather than one from the registry. */
  address?: string;
}

interface Resolved {
  readonly codec: string;
  readonly serializers: MethodSerializers;
}

/** Calls services: `invoke(service, method, request, options)`; generated clients wrap it with types. */
export class Client {
  private readonly transports: readonly Transport[];
  private readonly registry: Registry;
  private readonly selector: Selector;
  private readonly codecs: readonly Codec[];
  private readonly compressor: Compressor;
  private readonly defaultTimeout: number;
  private readonly chain: Terminal;
  private readonly channels = new Map<string, Channel>();
  private readonly resolved = new Map<string, Resolved>();
  private readonly eventAddress: string | undefined;
  private closed = false;

  constructor(options: ClientOptions) {
    this.transports = Array.isArray(options.transport) ? options.transport : [options.transport as Transport];
    this.registry = options.registry;
    this.selector = options.selector ?? roundRobin();
    this.codecs = [...(options.codecs ?? []), jsonCodec()];
    this.compressor = new Compressor(options.compression);
    this.defaultTimeout = options.timeout ?? 30_000;
    this.chain = composeFilters(options.filters ?? [], (call) => this.transmit(call as ClientCall));
    this.eventAddress = options.eventAddress;
  }

  invoke<Res = unknown>(service: string, method: string, request: unknown, options: CallOptions = {}): Promise<Res> {
    const timeoutMs = options.timeout ?? this.defaultTimeout;
    let deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    const parent = options.parent;
    if (parent !== undefined && parent.deadline !== 0 && (deadline === 0 || parent.deadline < deadline)) deadline = parent.deadline;
    const metadata = options.metadata === undefined ? {} : { ...options.metadata };
    const call = new ClientCall(service, method, request, metadata, deadline, timeoutMs, options.address);
    call.onMetadata = options.onMetadata;
    return new Promise<Res>((resolve, reject) => {
      if (this.closed) return reject(errors.channelClosed(options.address ?? service));
      const cleanups: (() => void)[] = [];
      if (deadline !== 0) {
        const ms = deadline - Date.now();
        const timer = setTimeout(() => call.abort(errors.deadlineExceeded(ms)), Math.max(0, ms));
        cleanups.push(() => clearTimeout(timer));
      }
      for (const signal of [options.signal, parent?.signal]) {
        if (signal === undefined) continue;
        if (signal.aborted) {
          call.bind(resolve as (v: unknown) => void, reject, undefined);
          return call.abort(RpcError.is(signal.reason) ? signal.reason : errors.cancelledByCaller(signal.reason));
        }
        const onAbort = (): void => call.abort(RpcError.is(signal.reason) ? signal.reason : errors.cancelledByCaller(signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
      const cleanup = cleanups.length === 0 ? undefined : cleanups.length === 1 ? cleanups[0] : () => cleanups.forEach((f) => f());
      call.bind(resolve as (v: unknown) => void, reject, cleanup);
      this.chain(call).then(
        (value) => call.succeed(value),
        (error: unknown) => call.fail(RpcError.from(error)),
      );
    });
  }

  /**
   * Publishes an event to the subscribers of `topic` (`@Subscribe(topic)`): one instance per group,
   * every instance for broadcast ones. Resolves once the transport has taken it; at most once.
   */
  async publish(topic: string, payload: unknown, options: PublishOptions = {}): Promise<void> {
    const address = options.address ?? this.eventAddress;
    if (address === undefined) throw noEventAddress(topic);
    await publishOn(this.channelFor(address), topic, payload, options);
  }

  /** Closes every channel; calls in flight fail with UNAVAILABLE. */
  async close(): Promise<void> {
    this.closed = true;
    const channels = [...this.channels.values()];
    this.channels.clear();
    await Promise.all(channels.map((c) => c.close()));
    await this.registry.close?.();
  }

  /** The transport step, at the end of the filter chain: one attempt on one node. */
  private async transmit(call: ClientCall): Promise<unknown> {
    const { codec, serializers } = this.resolve(call.service, call.method);
    let body: Uint8Array;
    try {
      body = serializers.encodeRequest(call.request);
    } catch (error) {
      throw errors.unencodableValue(codec, 'request', error);
    }
    let compression: Compression = Compression.NONE;
    if (this.compressor.wants(body)) {
      body = await this.compressor.compress(body);
      compression = this.compressor.flag;
    }
    const address = call.address ?? (await this.pick(call));
    const channel = this.channelFor(address);
    if (call.abortReason) throw call.abortReason;
    const metadata = call.metadata;
    const request: RequestMessage = {
      id: 0,
      service: call.service,
      method: call.method,
      codec,
      compression,
      deadline: call.deadline,
      metadata: hasKeys(metadata) ? metadata : undefined,
      body,
    };
    const response = await new Promise<ResponseMessage>((resolve, reject) => {
      const id = channel.call(request, (error, res) => {
        call.cancelTransport = undefined;
        if (error) reject(error);
        else resolve(res!);
      });
      if (!call.settled) call.cancelTransport = () => channel.cancel(id);
    });
    if (response.metadata) call.responseMetadata = response.metadata;
    if (response.status !== 0) {
      throw RpcError.fromWire(response.status, response.message ?? '', response.details, response.metadata, response.stack);
    }
    const bytes = response.compression === Compression.NONE ? response.body : await decompress(response.compression, response.body);
    try {
      return serializers.decodeResponse(bytes);
    } catch (error) {
      throw RpcError.is(error) ? error : errors.undecodableBody(response.codec, 'response', error);
    }
  }

  private async pick(call: ClientCall): Promise<string> {
    const found = this.registry.lookup(call.service);
    const nodes: readonly ServiceNode[] = Array.isArray(found) ? found : await found;
    if (nodes.length === 0) throw errors.noAddress(call.service);
    return nodes.length === 1 ? nodes[0]!.address : this.selector.select(nodes, call).address;
  }

  private channelFor(address: string): Channel {
    let channel = this.channels.get(address);
    if (channel) return channel;
    if (this.closed) throw errors.channelClosed(address);
    const transport = transportFor(this.transports, address);
    if (!transport) throw errors.noTransport(address, this.transports.flatMap((t) => t.schemes));
    channel = transport.connect(address);
    this.channels.set(address, channel);
    return channel;
  }

  private resolve(service: string, method: string): Resolved {
    const key = `${service}\u0000${method}`;
    let resolved = this.resolved.get(key);
    if (resolved) return resolved;
    for (const codec of this.codecs) {
      const serializers = codec.forMethod(service, method);
      if (serializers) {
        resolved = { codec: codec.name, serializers };
        break;
      }
    }
    this.resolved.set(key, resolved!);
    return resolved!;
  }
}

function hasKeys(record: Metadata): boolean {
  for (const _ in record) return true;
  return false;
}
