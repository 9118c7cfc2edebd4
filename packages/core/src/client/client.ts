import type { Codec, MethodSerializers } from '../codec/codec.js';
import { jsonCodec } from '../codec/json-codec.js';
import { schemaCodecs } from '../codec/protobuf-json-codec.js';
import type { ServiceSchema } from '../codec/protobuf-schema.js';
import { Compressor, decompress, resolveMaxDecompressedSize, type CompressionOptions } from '../codec/compression.js';
import { composeFilters, type Call, type Filter, type Terminal } from '../filter/filter.js';
import { RpcError } from '../errors/rpc-error.js';
import * as errors from '../errors/framework-errors.js';
import { Compression, progressFromWire, retryableFromWire } from '../wire/header.js';
import { checkMetadata, metadataLimits, type Metadata, type MetadataLimits } from '../metadata.js';
import { transportFor, type Channel, type RequestMessage, type ResponseMessage, type Transport } from '../transport/transport.js';
import type { Registry, ServiceNode } from './registry.js';
import { roundRobin, type Selector } from './selector.js';
import { ClientCall } from './client-call.js';
import { publishOn, type PublishOptions } from '../events/publish.js';
import { noEventAddress } from '../errors/framework-errors.js';

export interface ClientOptions {
  /** One transport or several; each address goes to the transport of its scheme. */
  transport: Transport | readonly Transport[];
  /** Where service addresses come from. */
  registry: Registry;
  /** How one node is picked among several. Default round robin. */
  selector?: Selector;
  /** Client filters, outermost first, composed once. */
  filters?: readonly Filter[];
  /**
   * The schemas svc-gen generated (`import { schemas } from './generated/index.js'`): calls to
   * those services travel as protobuf and are checked against their types. Others go as JSON.
   */
  schemas?: readonly ServiceSchema[];
  /** Codecs in order of preference, after those of `schemas`; the first that can carry a method is used. JSON is the last resort. */
  codecs?: readonly Codec[];
  /** Compress request bodies above a threshold. */
  compression?: CompressionOptions;
  /** Default per-call timeout in ms. Default 30 000; 0 means no deadline. */
  timeout?: number;
  /** Where publish() sends events, e.g. 'nats://127.0.0.1:4222' or 'inproc://bus'. */
  eventAddress?: string;
  /**
   * The most bytes a compressed response body may inflate to; beyond, the call fails with
   * RESOURCE_EXHAUSTED, having cost at most this much memory. Default 4 MiB, the frame size.
   */
  maxDecompressedSize?: number;
  /**
   * Request metadata a call may carry: entries (default 64) and bytes of keys and values in UTF-8
   * (default 16 KiB). A call over them fails with RESOURCE_EXHAUSTED before anything is sent.
   * What the client accepts in responses is its transport's limit.
   */
  maxMetadataEntries?: number;
  maxMetadataBytes?: number;
}

export interface CallOptions<Res = unknown> {
  /**
   * What the call resolves with when it fails (after the fail mode's attempts), instead of the
   * error: a value of the method's result type, or a function of the error giving one. A caller's
   * own cancellation still rejects. Required by the 'failsafe' fail mode.
   */
  fallback?: Res | ((error: RpcError) => Res | Promise<Res>);
  /** Milliseconds the call may take, end to end. Overrides the client's default; 0 for none. */
  timeout?: number;
  /**
   * Request metadata: string keys to string values (see `Metadata` for what is allowed). A value
   * of another type fails the call with INVALID_ARGUMENT naming the key, before anything is sent.
   */
  metadata?: Metadata;
  /** Aborting it cancels the call: the caller gets CANCELLED and the handler's signal fires. */
  signal?: AbortSignal;
  /**
   * The CallContext of the handler making this call (or any call): the deadline is the smaller
   * of the two, and cancelling the parent cancels this call.
   */
  parent?: Pick<Call, 'deadline' | 'signal'> & { readonly attempt?: number };
  /** Receives the metadata the server sent back (also on errors, which carry it as well). */
  onMetadata?: (metadata: Metadata) => void;
  /** Call this node rather than one from the registry. */
  address?: string;
}

/** Where the transport step reports: the call itself, or the promise of a filter's next(). */
interface CallSink {
  succeed(value: unknown): void;
  fail(error: RpcError): void;
}

const NO_METADATA: Metadata = Object.freeze({}) as Metadata;

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
  private readonly maxDecompressedSize: number;
  private readonly metadataLimits: MetadataLimits;
  private readonly chain: Terminal;
  private readonly hasFilters: boolean;
  private readonly channels = new Map<string, Channel>();
  private readonly resolved = new Map<string, Map<string, Resolved>>();
  private readonly eventAddress: string | undefined;
  private closed = false;

  constructor(options: ClientOptions) {
    this.transports = Array.isArray(options.transport) ? options.transport : [options.transport as Transport];
    this.registry = options.registry;
    this.selector = options.selector ?? roundRobin();
    this.codecs = [...(options.schemas ? schemaCodecs(options.schemas) : []), ...(options.codecs ?? []), jsonCodec()];
    this.compressor = new Compressor(options.compression);
    this.defaultTimeout = options.timeout ?? 30_000;
    this.maxDecompressedSize = resolveMaxDecompressedSize(options.maxDecompressedSize);
    this.metadataLimits = metadataLimits(options);
    this.hasFilters = (options.filters?.length ?? 0) > 0;
    this.chain = composeFilters(options.filters ?? [], (call) => new Promise((resolve, reject) => this.send(call as ClientCall, { succeed: resolve, fail: reject })));
    this.eventAddress = options.eventAddress;
  }

  invoke<Res = unknown>(service: string, method: string, request: unknown, options?: CallOptions<Res>): Promise<Res> {
    const timeoutMs = options?.timeout ?? this.defaultTimeout;
    const now = Date.now();
    let deadline = timeoutMs > 0 ? now + timeoutMs : 0;
    const parent = options?.parent;
    if (parent !== undefined && parent.deadline !== 0 && (deadline === 0 || parent.deadline < deadline)) deadline = parent.deadline;
    // Filters may add metadata: they get a copy. Without filters nothing writes to it. What is not
    // an object is passed on as it is, for sendTo to refuse.
    const given = options?.metadata;
    const metadata = given == null ? (this.hasFilters ? {} : NO_METADATA) : this.hasFilters && typeof given === 'object' && !Array.isArray(given) ? { ...given } : given;
    const call = new ClientCall(service, method, request, metadata, deadline, options?.address, now);
    if (options?.onMetadata) call.onMetadata = options.onMetadata;
    return new Promise<Res>((resolve, reject) => {
      call.bind(resolve as (value: unknown) => void, reject);
      if (this.closed) return call.fail(errors.channelClosed(options?.address ?? service));
      if (deadline !== 0) call.startTimer();
      if (options?.signal !== undefined) call.follow(options.signal);
      if (parent !== undefined) call.follow(parent.signal);
      if (call.settled) return;
      if (this.hasFilters) {
        this.chain(call).then(
          (value) => call.succeed(value),
          (error: unknown) => call.fail(RpcError.from(error)),
        );
      } else {
        this.send(call, call);
      }
    });
  }

  /**
   * Publishes an event to the subscribers of `topic` (`@Subscribe(topic)`): one instance per group,
   * every instance for broadcast ones. Resolves once the transport has taken it; at most once.
   */
  async publish(topic: string, payload: unknown, options: PublishOptions = {}): Promise<void> {
    const address = options.address ?? this.eventAddress;
    if (address === undefined) throw noEventAddress(topic);
    // Topics of the generated schemas go as protobuf (else schema-checked JSON), others as JSON.
    await publishOn(this.channelFor(address), topic, payload, options, this.codecs, this.metadataLimits);
  }

  /**
   * Closes every channel; calls in flight fail with UNAVAILABLE. The registry is not closed: it
   * was handed in and may serve other clients; close it where it was made.
   */
  async close(): Promise<void> {
    this.closed = true;
    const channels = [...this.channels.values()];
    this.channels.clear();
    await Promise.all(channels.map((c) => c.close()));
  }

  /**
   * The transport step, at the end of the filter chain: one attempt on one node. It reports to
   * `sink` (the call itself when there are no filters, so a call costs one promise), and stays
   * synchronous up to the socket unless compression or the registry need to wait.
   */
  private send(call: ClientCall, sink: CallSink): void {
    const { codec, serializers } = this.resolve(call.service, call.method);
    let body: Uint8Array;
    try {
      body = serializers.encodeRequest(call.request);
    } catch (error) {
      // A schema codec's own RpcError (a field of the wrong type) says more than any wrapper.
      return sink.fail(RpcError.is(error) ? error : errors.unencodableValue(codec, 'request', error));
    }
    if (this.compressor.wants(body)) {
      this.compressor.compress(body).then(
        (compressed) => this.route(call, sink, codec, serializers, compressed, this.compressor.flag),
        (error: unknown) => sink.fail(RpcError.from(error)),
      );
    } else {
      this.route(call, sink, codec, serializers, body, Compression.NONE);
    }
  }

  /** Picks the node (asking the registry unless the call names an address), then sends. */
  private route(call: ClientCall, sink: CallSink, codec: string, serializers: MethodSerializers, body: Uint8Array, compression: Compression): void {
    if (call.address !== undefined) return this.sendTo(call, sink, codec, serializers, body, compression, call.address);
    let found: readonly ServiceNode[] | Promise<readonly ServiceNode[]>;
    try {
      found = this.registry.lookup(call.service);
    } catch (error) {
      return sink.fail(RpcError.from(error));
    }
    if (Array.isArray(found)) return this.sendTo(call, sink, codec, serializers, body, compression, this.pick(call, found));
    (found as Promise<readonly ServiceNode[]>).then(
      (nodes) => this.sendTo(call, sink, codec, serializers, body, compression, this.pick(call, nodes)),
      (error: unknown) => sink.fail(RpcError.from(error)),
    );
  }

  private pick(call: ClientCall, nodes: readonly ServiceNode[]): string | RpcError {
    if (nodes.length === 0) return errors.noAddress(call.service);
    return nodes.length === 1 ? nodes[0]!.address : this.selector.select(nodes, call).address;
  }

  private sendTo(call: ClientCall, sink: CallSink, codec: string, serializers: MethodSerializers, body: Uint8Array, compression: Compression, address: string | RpcError): void {
    if (typeof address !== 'string') return sink.fail(address);
    if (call.settled || call.abortReason) return sink.fail(call.abortReason ?? errors.cancelledByCaller());
    let channel: Channel;
    try {
      channel = this.channelFor(address);
    } catch (error) {
      return sink.fail(RpcError.from(error));
    }
    // Checked here, after the filters: what goes on the wire is what the rules allow (Metadata).
    const metadata = call.metadata;
    let entries = 0;
    if (metadata !== NO_METADATA) {
      try {
        entries = checkMetadata(metadata, 'request', this.metadataLimits);
      } catch (error) {
        return sink.fail(error as RpcError);
      }
    }
    const request: RequestMessage = {
      id: 0,
      service: call.service,
      method: call.method,
      codec,
      compression,
      deadline: call.deadline,
      metadata: entries > 0 ? metadata : undefined,
      body,
    };
    const id = channel.call(request, (error, response) => {
      call.channel = undefined;
      if (error) sink.fail(error);
      else this.receive(call, sink, serializers, response!);
    });
    if (!call.settled) {
      call.channel = channel;
      call.requestId = id;
    }
  }

  private receive(call: ClientCall, sink: CallSink, serializers: MethodSerializers, response: ResponseMessage): void {
    // The transport took the response apart but found it over a limit (metadata caps).
    if (response.violation !== undefined) return sink.fail(response.violation);
    if (response.metadata) call.responseMetadata = response.metadata;
    if (response.status !== 0) {
      const error = RpcError.fromWire(response.status, response.message ?? '', response.details, response.metadata, response.stack, progressFromWire(response.progress), retryableFromWire(response.retryable));
      return sink.fail(error);
    }
    if (response.compression !== Compression.NONE) {
      decompress(response.compression, response.body, this.maxDecompressedSize).then(
        (bytes) => this.decode(sink, serializers, response.codec, bytes),
        (error: unknown) => sink.fail(RpcError.from(error)),
      );
    } else {
      this.decode(sink, serializers, response.codec, response.body);
    }
  }

  private decode(sink: CallSink, serializers: MethodSerializers, codec: string, bytes: Uint8Array): void {
    let value: unknown;
    try {
      value = serializers.decodeResponse(bytes);
    } catch (error) {
      return sink.fail(RpcError.is(error) ? error : errors.undecodableBody(codec, 'response', error));
    }
    sink.succeed(value);
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
    // Two maps rather than one keyed by service + method: no string is built per call.
    let methods = this.resolved.get(service);
    if (methods === undefined) this.resolved.set(service, (methods = new Map()));
    let resolved = methods.get(method);
    if (resolved) return resolved;
    for (const codec of this.codecs) {
      const serializers = codec.forMethod(service, method);
      if (serializers) {
        resolved = { codec: codec.name, serializers };
        break;
      }
    }
    methods.set(method, resolved!);
    return resolved!;
  }
}
