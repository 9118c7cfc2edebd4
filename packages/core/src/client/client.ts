import type { Codec } from '../codec/codec.js';
import { jsonCodec } from '../codec/json-codec.js';
import { schemaCodecs } from '../codec/protobuf-json-codec.js';
import type { MethodSchema, ServiceSchema } from '../codec/protobuf-schema.js';
import { Compressor, decompress, resolveMaxDecompressedSize, type CompressionOptions } from '../codec/compression.js';
import { composeFilters, type Call, type Filter, type Terminal } from '../filter/filter.js';
import { Attempt, type AttemptCall, type AttemptOwner } from './attempt.js';
import { AttemptRunner, type AttemptTransport } from './attempt-runner.js';
import { resolvePolicy, withoutRetries, type FailMode, type FailPolicy, type PolicyLayer, type ResolvedPolicy, type ServicePolicy } from './fail-policy.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';
import type { MethodState } from './method-state.js';
import { RpcError } from '../errors/rpc-error.js';
import * as errors from '../errors/framework-errors.js';
import { Compression, progressFromWire, retryableFromWire } from '../wire/header.js';
import { checkMetadata, metadataLimits, type Metadata, type MetadataLimits } from '../metadata.js';
import { transportFor, type Channel, type RequestMessage, type ResponseMessage, type Transport } from '../transport/transport.js';
import type { Registry, ServiceNode } from './registry.js';
import { roundRobin, type Selector } from './selector.js';
import { ClientCall, type CallSink, type Transmission } from './client-call.js';
import { publishOn, type PublishOptions } from '../events/publish.js';
import { PublishCall } from '../events/publish-call.js';
import { isObservingAttemptFilter } from './observing-filter.js';
import { consoleLogger, type Logger } from '../logger.js';
import { RegistryCache, type RegistryCacheOptions } from './registry-cache.js';
import { NodeRoute, type RouteOptions } from './node-route.js';
import { RoutedCall } from './routed-call.js';
import { ClientStream, type StreamOwner, type StreamSource } from './client-stream.js';
import { resolveStreamWindow } from '../stream/outbound-credit.js';
import { checkMaxStreamWindow, resolveWindowBudget } from '../stream/window-budget.js';
import { StreamKind } from '../transport/transport.js';

/** Settings of one service (ClientOptions.services): its fail policy, and which of its nodes to use. */
export interface ClientServiceOptions extends ServicePolicy {
  /** Tag and version routing for this service, over ClientOptions.route. */
  route?: RouteOptions;
}

export interface ClientOptions {
  /** One transport or several; each address goes to the transport of its scheme. */
  transport: Transport | readonly Transport[];
  /**
   * Where service addresses come from. A registry that can watch is cached: lookups are answered
   * from memory, kept current by its watch and a full lookup every `registryCache.refreshInterval`,
   * and its last known nodes keep serving while it cannot be reached (docs/discovery.md).
   */
  registry: Registry;
  /** How a watching registry is cached: refresh interval (30 s), idle release (5 min), lookup timeout (5 s), services followed (1 000). */
  registryCache?: RegistryCacheOptions;
  /**
   * Which nodes calls may use, before the selector picks: tags ({ zone: 'eu' }) and a semver
   * range of versions ('^1.2.0'); per service in `services[name].route`, per call in CallOptions.
   */
  route?: RouteOptions;
  /** Where the client's warnings go (a registry that stops answering, and its return). Default consoleLogger. */
  logger?: Logger;
  /** How one node is picked among several. Default round robin. */
  selector?: Selector;
  /**
   * Call filters, outermost first, composed once: each runs once per logical call, around all of
   * its attempts (auth metadata, the call's span, logging). May replace `call.request`.
   */
  filters?: readonly Filter[];
  /**
   * Attempt filters, outermost first: each runs once per attempt, knowing its node (a node's
   * circuit breaker, an attempt span, per-node metrics). Throw an RpcError with progress
   * 'not_sent' to skip the node: the call goes on to another at no cost.
   */
  attemptFilters?: readonly Filter<AttemptCall>[];
  /** What a failed call does (docs/fail-modes.md). Default 'failfast'. */
  failMode?: FailMode | FailPolicy;
  /** Settings per service, and per method within (`methods`), over failMode and the schemas; a service's `route`. */
  services?: Readonly<Record<string, ClientServiceOptions>>;
  /**
   * The retry budget of each service (gRPC's retry throttling): retries and hedges stop while
   * more than half of it is spent. Default { maxTokens: 10, tokenRatio: 0.1 }; false: no budget.
   */
  retryBudget?: RetryBudgetOptions | false;
  /**
   * The schemas svc-gen generated (`import { schemas } from './generated/index.js'`): calls to
   * those services travel as protobuf and are checked against their types. Others go as JSON.
   */
  schemas?: readonly ServiceSchema[];
  /** Codecs in order of preference, after those of `schemas`; the first that can carry a method is used. JSON is the last resort. */
  codecs?: readonly Codec[];
  /** Compress request bodies and stream messages above a threshold (each message on its own). */
  compression?: CompressionOptions;
  /** Default per-call timeout in ms. Default 30 000; 0 means no deadline. */
  timeout?: number;
  /** Where publish() sends events, e.g. 'nats://127.0.0.1:4222' or 'inproc://bus'. */
  eventAddress?: string;
  /**
   * The most bytes a compressed response body or stream message may inflate to; beyond, the call
   * (or stream) fails with RESOURCE_EXHAUSTED, having cost at most this much memory. Default 4 MiB, the frame size.
   */
  maxDecompressedSize?: number;
  /**
   * Request metadata a call may carry: entries (default 64) and bytes of keys and values in UTF-8
   * (default 16 KiB). A call over them fails with RESOURCE_EXHAUSTED before anything is sent.
   * What the client accepts in responses is its transport's limit.
   */
  maxMetadataEntries?: number;
  maxMetadataBytes?: number;
  /**
   * Bytes of server messages each stream may hold here before the server must wait for credit
   * (docs/streams.md, flow control). Default 256 KiB; at least 64 KiB, the protocol's initial window.
   */
  streamWindow?: number;
  /**
   * The most a stream's receive window grows to while its consumer keeps up and the window is what
   * holds the server back (docs/streams.md, flow control). Default 4 MiB, or streamWindow when larger.
   */
  maxStreamWindow?: number;
  /** Bytes all of this client's streams together may grow their windows by. Default 64 MiB; 0: windows never grow. */
  streamWindowBudget?: number;
}

/** The options of one stream (serverStream, clientStream, bidiStream): those of a call that apply to streams. */
export interface StreamOptions {
  /** Milliseconds the whole stream may take, from its start to its END. Overrides the client's default; 0 for none. */
  timeout?: number;
  /** Request metadata, as for a call. */
  metadata?: Metadata;
  /** Aborting it ends the stream: CANCEL on the wire, the loop throws CANCELLED. */
  signal?: AbortSignal;
  /** As for a call: the smaller deadline, and the parent's cancellation ends the stream. */
  parent?: Pick<Call, 'deadline' | 'signal'> & { readonly attempt?: number };
  /** Receives the metadata the server sent with the stream's END (also on errors). */
  onMetadata?: (metadata: Metadata) => void;
  /** Open the stream to this node rather than one from the registry. */
  address?: string;
  /** This stream's receive window in bytes, over ClientOptions.streamWindow. */
  streamWindow?: number;
  /** The most this stream's receive window grows to, over ClientOptions.maxStreamWindow (a bulk transfer may want more; growth still comes from the client's streamWindowBudget). */
  maxStreamWindow?: number;
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
  /** This call's fail mode, over the client's and the method's. */
  failMode?: FailMode | FailPolicy;
  /** Whether this call may run twice (overrides the method's `idempotent`). */
  idempotent?: boolean;
  /** This call's tag and version routing, over the service's and the client's (field by field). */
  route?: RouteOptions;
}

const NO_METADATA: Metadata = Object.freeze({}) as Metadata;

/** Calls services: `invoke(service, method, request, options)`; generated clients wrap it with types. */
export class Client implements AttemptTransport, AttemptOwner {
  readonly selector: Selector;
  /** Every attempt filter, composed; undefined when there are none. */
  private readonly attemptChain: Terminal<Attempt> | undefined;
  /** The attempt filters that are not only observers (observingAttemptFilter), for calls that observe nothing. */
  private readonly actingAttemptChain: Terminal<Attempt> | undefined;
  private readonly transports: readonly Transport[];
  /** The registry, or the cache in front of it when it can watch. */
  private readonly registry: Pick<Registry, 'lookup'>;
  private readonly cache: RegistryCache | undefined;
  private readonly route: RouteOptions | undefined;
  /** Whether any route may apply: the client or a service has one, or a call brought one. */
  private routed: boolean;
  /** The route of each service (the client's and the service's), null for none; made on first use. */
  private readonly serviceRoutes = new Map<string, NodeRoute | null>();
  private readonly codecs: readonly Codec[];
  private readonly compressor: Compressor;
  private readonly defaultTimeout: number;
  private readonly maxDecompressedSize: number;
  /** What this client's streams need of it. */
  private readonly streamOwner: StreamOwner;
  private readonly metadataLimits: MetadataLimits;
  private readonly chain: Terminal<ClientCall>;
  /** The same call filters around a publish. */
  private readonly publishChain: Terminal<PublishCall>;
  private readonly hasFilters: boolean;
  private readonly failMode: FailMode | FailPolicy | undefined;
  private readonly servicePolicies: Readonly<Record<string, ClientServiceOptions>>;
  private readonly budgetOptions: RetryBudgetOptions | false;
  private readonly budgets = new Map<string, RetryBudget>();
  private readonly methodSchemas = new Map<string, Map<string, MethodSchema>>();
  private readonly channels = new Map<string, Channel>();
  private readonly methods = new Map<string, Map<string, MethodState>>();
  private readonly eventAddress: string | undefined;
  /** The call filters around a stream: next() settles when the stream ends. */
  private readonly streamChain: Terminal<ClientStream>;
  private readonly streamWindow: number;
  private closed = false;

  constructor(options: ClientOptions) {
    this.transports = Array.isArray(options.transport) ? options.transport : [options.transport as Transport];
    const registry = options.registry;
    this.cache = typeof registry.watch === 'function' ? new RegistryCache(registry, options.logger ?? consoleLogger, options.registryCache) : undefined;
    this.registry = this.cache ?? registry;
    this.selector = options.selector ?? roundRobin();
    this.codecs = [...(options.schemas ? schemaCodecs(options.schemas) : []), ...(options.codecs ?? []), jsonCodec()];
    for (const schema of options.schemas ?? []) this.methodSchemas.set(schema.service, new Map(schema.methods.map((m) => [m.name, m])));
    this.compressor = new Compressor(options.compression);
    this.defaultTimeout = options.timeout ?? 30_000;
    this.maxDecompressedSize = resolveMaxDecompressedSize(options.maxDecompressedSize);
    this.streamOwner = { compressor: this.compressor, maxDecompressedSize: this.maxDecompressedSize, windowBudget: resolveWindowBudget(options), reopen: (stream, error) => this.reopenStream(stream, error) };
    this.metadataLimits = metadataLimits(options);
    this.failMode = options.failMode;
    this.servicePolicies = options.services ?? {};
    this.route = options.route;
    // Checked now, so that a bad range or tag fails here rather than on every call.
    NodeRoute.of([this.route]);
    for (const service of Object.values(this.servicePolicies)) NodeRoute.of([this.route, service?.route]);
    this.routed = this.route !== undefined || Object.values(this.servicePolicies).some((s) => s?.route !== undefined);
    this.budgetOptions = options.retryBudget ?? {};
    this.hasFilters = (options.filters?.length ?? 0) > 0;
    this.chain = composeFilters<ClientCall>((options.filters ?? []) as readonly Filter<ClientCall>[], (call) =>
      new Promise((resolve, reject) => {
        const sink: CallSink = { succeed: resolve, fail: reject };
        call.terminal = sink;
        this.start(call, sink);
      }),
    );
    this.streamChain = composeFilters<ClientStream>((options.filters ?? []) as readonly Filter<ClientStream>[], (stream) =>
      new Promise((resolve, reject) => {
        stream.sink = { succeed: resolve, fail: reject };
        this.openStream(stream);
      }),
    );
    this.streamWindow = resolveStreamWindow(options.streamWindow);
    this.publishChain = composeFilters<PublishCall>((options.filters ?? []) as readonly Filter<PublishCall>[], (call) =>
      publishOn(call.channel, call.topic, call.request, { metadata: call.metadata }, this.codecs, this.metadataLimits),
    );
    const attemptFilters = options.attemptFilters ?? [];
    this.attemptChain = this.composeAttemptFilters(attemptFilters);
    const acting = attemptFilters.filter((f) => !isObservingAttemptFilter(f));
    this.actingAttemptChain = acting.length === attemptFilters.length ? this.attemptChain : this.composeAttemptFilters(acting);
    this.eventAddress = options.eventAddress;
  }

  private composeAttemptFilters(filters: readonly Filter<AttemptCall>[]): Terminal<Attempt> | undefined {
    if (filters.length === 0) return undefined;
    return composeFilters<Attempt>(filters as readonly Filter<Attempt>[], (attempt) =>
      new Promise((resolve, reject) => {
        const sink: CallSink = { succeed: resolve, fail: reject };
        attempt.terminal = sink;
        this.transmit(attempt.call as ClientCall, attempt, sink);
      }),
    );
  }

  /** AttemptTransport: the attempt filters of a call's attempts; the observers only when it observes. */
  attemptChainFor(call: ClientCall): Terminal<Attempt> | undefined {
    return call.observeAttempts ? this.attemptChain : this.actingAttemptChain;
  }

  // `| CallOptions`: clients generated before fallback was typed pass a plain CallOptions.
  invoke<Res = unknown>(service: string, method: string, request: unknown, options?: CallOptions<Res> | CallOptions): Promise<Res> {
    const state = this.stateOf(service, method);
    let policy = state.policy;
    if (options !== undefined && (options.failMode !== undefined || options.idempotent !== undefined)) policy = this.callPolicy(service, method, options);
    const parent = options?.parent;
    // ChainStop: a handler serving a retry or a hedge does not multiply it downstream.
    if (parent?.attempt !== undefined && parent.attempt > 1) policy = withoutRetries(policy);
    const timeoutMs = options?.timeout ?? (policy.timeout || this.defaultTimeout);
    const now = Date.now();
    let deadline = timeoutMs > 0 ? now + timeoutMs : 0;
    if (parent !== undefined && parent.deadline !== 0 && (deadline === 0 || parent.deadline < deadline)) deadline = parent.deadline;
    // Filters may add metadata: they get a copy. Without filters nothing writes to it. What is not
    // an object is passed on as it is, for transmit to refuse.
    const given = options?.metadata;
    const metadata = given == null ? (this.hasFilters ? {} : NO_METADATA) : this.hasFilters && typeof given === 'object' && !Array.isArray(given) ? { ...given } : given;
    let call: ClientCall;
    let invalidRoute: RpcError | undefined;
    if (options?.route === undefined) {
      call = new ClientCall(service, method, request, metadata, deadline, options?.address, now, state, policy);
    } else {
      const routed = new RoutedCall(service, method, request, metadata, deadline, options.address, now, state, policy);
      try {
        routed.route = NodeRoute.of([this.route, this.servicePolicies[service]?.route, options.route]);
      } catch (error) {
        invalidRoute = RpcError.from(error);
      }
      this.routed = true;
      call = routed;
    }
    if (options?.fallback !== undefined) call.fallback = { value: options.fallback };
    if (options?.onMetadata) call.onMetadata = options.onMetadata;
    return new Promise<Res>((resolve, reject) => {
      call.bind(resolve as (value: unknown) => void, reject);
      if (this.closed) return call.fail(errors.channelClosed(options?.address ?? service));
      if (invalidRoute !== undefined) return call.fail(invalidRoute);
      if (policy.mode === 'failsafe' && call.fallback === undefined) return call.fail(errors.failsafeWithoutFallback(service, method));
      if (state.declared !== undefined) return call.fail(errors.calledAsOtherShape(service, method, state.declared, 'unary'));
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
        this.start(call, call);
      }
    });
  }

  /**
   * A server stream: one request, the server's messages as an AsyncIterable. The stream opens
   * when the loop starts; leaving the loop early cancels it on the wire; its errors (the
   * handler's, the deadline's, a lost connection's) are thrown by the loop as RpcErrors.
   */
  serverStream<Res = unknown>(service: string, method: string, request: unknown, options?: StreamOptions): AsyncIterable<Res> {
    return this.iterableStream(StreamKind.SERVER, service, method, request, options) as AsyncIterable<Res>;
  }

  /** A client stream: sends each of `messages` (waiting for the server's credit), resolves with the server's one result. */
  clientStream<Res = unknown, Req = unknown>(service: string, method: string, messages: StreamSource<Req>, options?: StreamOptions): Promise<Res> {
    const stream = this.makeStream(StreamKind.CLIENT, service, method, messages, options);
    this.startStream(stream, options);
    return resultOf(stream) as Promise<Res>;
  }

  /** A bidirectional stream: sends `messages` as the server's credit allows, while the loop reads the server's. */
  bidiStream<Res = unknown, Req = unknown>(service: string, method: string, messages: StreamSource<Req>, options?: StreamOptions): AsyncIterable<Res> {
    return this.iterableStream(StreamKind.BIDI, service, method, messages, options) as AsyncIterable<Res>;
  }

  private iterableStream(shape: StreamKind, service: string, method: string, request: unknown, options: StreamOptions | undefined): AsyncIterable<unknown> {
    let stream: ClientStream | undefined;
    return {
      [Symbol.asyncIterator]: () => {
        if (stream !== undefined) throw errors.streamIteratedTwice(service, method);
        stream = this.makeStream(shape, service, method, request, options);
        this.startStream(stream, options);
        return stream.inbound;
      },
    };
  }

  private makeStream(shape: StreamKind, service: string, method: string, request: unknown, options: StreamOptions | undefined): ClientStream {
    const state = this.stateOf(service, method);
    const parent = options?.parent;
    const timeoutMs = options?.timeout ?? (state.policy.timeout || this.defaultTimeout);
    const now = Date.now();
    let deadline = timeoutMs > 0 ? now + timeoutMs : 0;
    if (parent !== undefined && parent.deadline !== 0 && (deadline === 0 || parent.deadline < deadline)) deadline = parent.deadline;
    const given = options?.metadata;
    const metadata = given == null ? (this.hasFilters ? {} : NO_METADATA) : this.hasFilters && typeof given === 'object' && !Array.isArray(given) ? { ...given } : given;
    let window = this.streamWindow;
    let maxWindow: number | undefined;
    let invalid: RpcError | undefined;
    try {
      if (options?.streamWindow !== undefined) window = resolveStreamWindow(options.streamWindow);
      if (options?.maxStreamWindow !== undefined) maxWindow = checkMaxStreamWindow(options.maxStreamWindow);
      const calledAs = shape === StreamKind.SERVER ? 'server' : shape === StreamKind.CLIENT ? 'client' : 'bidi';
      if (state.declared !== undefined && state.declared !== calledAs) throw errors.calledAsOtherShape(service, method, state.declared, calledAs);
    } catch (error) {
      invalid = RpcError.from(error);
    }
    const stream = new ClientStream(shape, service, method, request, metadata, deadline, options?.address, now, state, window, maxWindow, this.streamOwner);
    if (options?.onMetadata) stream.onMetadata = options.onMetadata;
    if (invalid !== undefined) stream.abort(invalid);
    return stream;
  }

  private startStream(stream: ClientStream, options: StreamOptions | undefined): void {
    if (stream.stopped) return;
    if (this.closed) return stream.giveUp(errors.channelClosed(options?.address ?? stream.service));
    if (stream.deadline !== 0) stream.startTimer();
    if (options?.signal !== undefined) stream.follow(options.signal);
    if (options?.parent !== undefined) stream.follow(options.parent.signal);
    if (stream.stopped) return;
    if (!this.hasFilters) return this.openStream(stream);
    this.streamChain(stream).then(
      () => stream.settled(undefined),
      (error: unknown) => stream.settled(RpcError.from(error)),
    );
  }

  /** The stream chain's terminal: where to, then the transport opens it. Streams bypass the fail modes. */
  private openStream(stream: ClientStream): void {
    if (stream.stopped) return stream.sink?.fail(stream.abortReason ?? errors.cancelledByCaller());
    if (stream.address !== undefined) return this.sendStream(stream, stream.address);
    let found: readonly ServiceNode[] | Promise<readonly ServiceNode[]>;
    try {
      found = this.registry.lookup(stream.service);
    } catch (error) {
      return stream.giveUp(RpcError.from(error));
    }
    if (Array.isArray(found)) return this.sendStream(stream, this.pickForStream(stream, found));
    (found as Promise<readonly ServiceNode[]>).then(
      (nodes) => this.sendStream(stream, this.pickForStream(stream, nodes)),
      (error: unknown) => stream.giveUp(RpcError.from(error)),
    );
  }

  /**
   * A stream failed before the server's first frame, in a way that says no handler ran
   * (client-stream.ts decides): opened again on a node it has not tried, or ended with `error`
   * when there is none. A microtask later, so that a transport failing the stream while opening
   * it never finds this nested in its own openStream.
   */
  private reopenStream(stream: ClientStream, error: RpcError): void {
    queueMicrotask(() => {
      if (stream.stopped) return;
      let found: readonly ServiceNode[] | Promise<readonly ServiceNode[]>;
      try {
        found = this.nodesOf(stream);
      } catch {
        return stream.giveUp(error);
      }
      if (Array.isArray(found)) return this.sendStream(stream, this.pickUntried(stream, found, error));
      (found as Promise<readonly ServiceNode[]>).then(
        (nodes) => this.sendStream(stream, this.pickUntried(stream, nodes, error)),
        () => stream.giveUp(error),
      );
    });
  }

  /** A node the stream has not tried, by the selector's pick (told when the stream is over, if it learns), or `error` when none is left. */
  private pickUntried(stream: ClientStream, nodes: readonly ServiceNode[], error: RpcError): ServiceNode | RpcError {
    const untried = nodes.filter((node) => !stream.tried.includes(node.address));
    if (untried.length === 0) return error;
    const learns = this.selector.report !== undefined;
    if (untried.length === 1 && !learns) return untried[0]!;
    const picked = this.selector.select(untried, stream, stream.tried);
    if (learns) stream.reportTo(this.selector, picked);
    return picked;
  }

  /**
   * The node for a stream. A selector that learns is asked even for a list of one and told when
   * the stream is over (its picks each get one report, as attempts' do): otherwise the load it
   * counts for the node would never go down.
   */
  private pickForStream(stream: ClientStream, nodes: readonly ServiceNode[]): ServiceNode | RpcError {
    const learns = this.selector.report !== undefined;
    const picked = this.pick(stream, nodes, learns);
    if (learns && !(picked instanceof RpcError)) stream.reportTo(this.selector, picked);
    return picked;
  }

  private sendStream(stream: ClientStream, picked: ServiceNode | string | RpcError): void {
    if (picked instanceof RpcError) return stream.giveUp(picked);
    const address = typeof picked === 'string' ? picked : picked.address;
    if (stream.stopped) return stream.sink?.fail(stream.abortReason ?? errors.cancelledByCaller());
    let channel: Channel;
    try {
      channel = this.channelFor(address);
    } catch (error) {
      return stream.giveUp(RpcError.from(error));
    }
    if (channel.openStream === undefined) return stream.giveUp(errors.streamsNotSupported(address));
    const metadata = stream.metadata;
    let entries = 0;
    let body: Uint8Array = EMPTY_BODY;
    try {
      if (metadata !== NO_METADATA) entries = checkMetadata(metadata, 'request', this.metadataLimits);
      if (stream.shape === StreamKind.SERVER) body = encodeRequestOf(stream);
    } catch (error) {
      return stream.giveUp(error as RpcError);
    }
    const open = stream.opening(address);
    const sender = channel.openStream(
      {
        id: 0,
        service: stream.service,
        method: stream.method,
        codec: stream.state.codec,
        compression: Compression.NONE,
        deadline: stream.deadline,
        metadata: entries > 0 ? metadata : undefined,
        body,
        stream: stream.shape,
      },
      stream,
    );
    stream.opened(sender, open);
  }

  /**
   * Publishes an event to the subscribers of `topic` (`@Subscribe(topic)`): one instance per group,
   * every instance for broadcast ones. Resolves once the transport has taken it; at most once.
   * The client's call filters see it first, as a call of kind 'event' (PublishCall).
   */
  async publish(topic: string, payload: unknown, options: PublishOptions = {}): Promise<void> {
    const address = options.address ?? this.eventAddress;
    if (address === undefined) throw errors.noEventAddress(topic);
    const channel = this.channelFor(address);
    // Topics of the generated schemas go as protobuf (else schema-checked JSON), others as JSON.
    if (!this.hasFilters) return publishOn(channel, topic, payload, options, this.codecs, this.metadataLimits);
    // Filters may add metadata: they get a copy. What is not an object is passed on as it is, for
    // publishOn to refuse.
    const given = options.metadata;
    const metadata = given == null ? {} : typeof given === 'object' && !Array.isArray(given) ? { ...given } : given;
    await this.publishChain(new PublishCall(topic, payload, metadata, channel));
  }

  /**
   * Closes every channel; calls in flight fail with UNAVAILABLE. The registry is not closed: it
   * was handed in and may serve other clients; close it where it was made.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.cache?.close();
    const channels = [...this.channels.values()];
    this.channels.clear();
    await Promise.all(channels.map((c) => c.close()));
  }

  /**
   * The step after the call filters: encodes the request once for all attempts, then either sends
   * the call itself (failfast, no attempt filters, a selector that does not learn: one promise
   * per call, no attempt object) or hands it to the fail mode's runner. Synchronous up to the
   * socket unless compression or the registry need to wait.
   */
  private start(call: ClientCall, sink: CallSink): void {
    const { codec, serializers } = call.state;
    let body: Uint8Array;
    try {
      body = serializers.encodeRequest(call.request);
    } catch (error) {
      // A schema codec's own RpcError (a field of the wrong type) says more than any wrapper.
      return sink.fail(RpcError.is(error) ? error : errors.unencodableValue(codec, 'request', error));
    }
    if (this.compressor.wants(body)) {
      this.compressor.compress(body).then(
        (compressed) => {
          call.body = compressed;
          call.compression = this.compressor.flag;
          this.dispatch(call, sink);
        },
        (error: unknown) => sink.fail(RpcError.from(error)),
      );
    } else {
      call.body = body;
      this.dispatch(call, sink);
    }
  }

  private dispatch(call: ClientCall, sink: CallSink): void {
    // Every mode but failbackup sends its first attempt without a runner: a runner takes over
    // only when it fails (`failed`, `attemptFailed`), so retrying modes and attempt filters cost
    // nothing extra while nothing fails. failbackup (to hedge), an attemptTimeout (to cut the
    // attempt) and a selector that learns (told of every attempt, cancelled ones too) need their
    // runner from the start.
    const { policy } = call;
    if (policy.mode === 'failbackup' || policy.attemptTimeout > 0 || this.selector.report !== undefined) return new AttemptRunner(this, call, sink).start();
    if (call.address !== undefined) return this.sendFirst(call, sink, call.address);
    let found: readonly ServiceNode[] | Promise<readonly ServiceNode[]>;
    try {
      found = this.registry.lookup(call.service);
    } catch (error) {
      return sink.fail(RpcError.from(error));
    }
    if (Array.isArray(found)) return this.sendFirst(call, sink, this.pick(call, found));
    (found as Promise<readonly ServiceNode[]>).then(
      (nodes) => this.sendFirst(call, sink, this.pick(call, nodes)),
      (error: unknown) => sink.fail(RpcError.from(error)),
    );
  }

  /** The node for a call's first attempt (a pinned address needs none), or why there is none. */
  private pick(call: ClientCall | ClientStream, nodes: readonly ServiceNode[], alwaysSelect = false): ServiceNode | RpcError {
    if (nodes.length === 0) return errors.noAddress(call.service);
    if (this.routed) {
      const allowed = this.allowed(call, nodes);
      if (!Array.isArray(allowed)) return allowed as RpcError;
      nodes = allowed;
    }
    return nodes.length === 1 && !alwaysSelect ? nodes[0]! : this.selector.select(nodes, call, NONE_TRIED);
  }

  /** The nodes the call's route allows (all when it has none), or why none may be used. */
  private allowed(call: ClientCall | ClientStream, nodes: readonly ServiceNode[]): readonly ServiceNode[] | RpcError {
    const route = call instanceof RoutedCall ? call.route : this.serviceRoute(call.service);
    return route === undefined ? nodes : route.select(call.service, nodes);
  }

  private serviceRoute(service: string): NodeRoute | undefined {
    let route = this.serviceRoutes.get(service);
    if (route === undefined) this.serviceRoutes.set(service, (route = NodeRoute.of([this.route, this.servicePolicies[service]?.route]) ?? null));
    return route ?? undefined;
  }

  /** As allowed(), for the runner: an empty list is its own to judge, a route's refusal is thrown. */
  private routedNodes(call: ClientCall | ClientStream, nodes: readonly ServiceNode[]): readonly ServiceNode[] {
    if (nodes.length === 0 || call.address !== undefined) return nodes;
    const allowed = this.allowed(call, nodes);
    if (!Array.isArray(allowed)) throw allowed;
    return allowed;
  }

  /**
   * The call's first attempt, without a runner. With no attempt filters to run, the call is its
   * own only attempt (one object, one promise). With attempt filters, one Attempt (they need its
   * node and its own metadata) whose owner is this client: a runner is made only if it fails.
   */
  private sendFirst(call: ClientCall, sink: CallSink, picked: ServiceNode | string | RpcError): void {
    if (picked instanceof RpcError) return sink.fail(picked);
    call.attemptCount = 1;
    const chain = this.attemptChainFor(call);
    if (chain === undefined) return this.send(call, call, sink, typeof picked === 'string' ? picked : picked.address);
    const node = typeof picked === 'string' ? { address: picked } : picked;
    const attempt = new Attempt(this, call, 1, false, node, { ...call.metadata });
    attempt.sink = sink;
    call.attempts = attempt;
    chain(attempt).then(
      (value) => attempt.succeed(value),
      (error: unknown) => attempt.fail(RpcError.from(error)),
    );
  }

  /** AttemptOwner, for a first attempt sent without a runner (sendFirst). */
  attemptSucceeded(attempt: Attempt, value: unknown): void {
    const call = attempt.call as ClientCall;
    if (attempt.responseMetadata !== undefined) call.responseMetadata = attempt.responseMetadata;
    if (call.policy.retries) call.state.budget?.succeeded();
    attempt.sink!.succeed(value);
  }

  /** AttemptOwner, for a first attempt sent without a runner: a runner takes over when the failure may be retried. */
  attemptFailed(attempt: Attempt, error: RpcError): void {
    const call = attempt.call as ClientCall;
    if (attempt.responseMetadata !== undefined) call.responseMetadata = attempt.responseMetadata;
    if (mayRetry(call, error)) return new AttemptRunner(this, call, attempt.sink!).takeOver(attempt.node.address, error);
    attempt.sink!.fail(error);
  }

  /**
   * A transmission failed. When the call was its own only attempt, a runner takes over if the
   * failure may be retried (mayRetry); it decides what to do next. Any other failure is the
   * sink's: a runner's attempt, or a first attempt's filters, which hand it to attemptFailed.
   */
  private failed(call: ClientCall, target: Transmission, sink: CallSink, address: string, error: RpcError): void {
    if (target === call && mayRetry(call, error)) return new AttemptRunner(this, call, sink).takeOver(address, error);
    sink.fail(error);
  }

  /** AttemptTransport: the nodes of the call's service. */
  nodesOf(call: ClientCall | ClientStream): readonly ServiceNode[] | Promise<readonly ServiceNode[]> {
    const found = this.registry.lookup(call.service);
    if (!this.routed) return found;
    if (Array.isArray(found)) return this.routedNodes(call, found);
    return (found as Promise<readonly ServiceNode[]>).then((nodes) => this.routedNodes(call, nodes));
  }

  /** AttemptTransport: sends one attempt to its node. */
  transmit(call: ClientCall, attempt: Attempt, sink: CallSink): void {
    this.send(call, attempt, sink, attempt.node.address);
  }

  /** Writes the request of `call` to the channel of `address`, for `target` (the call or an attempt). */
  private send(call: ClientCall, target: Transmission, sink: CallSink, address: string): void {
    if (target.stopped || call.abortReason) return sink.fail(call.abortReason ?? errors.cancelledByCaller());
    let channel: Channel;
    try {
      channel = this.channelFor(address);
    } catch (error) {
      return this.failed(call, target, sink, address, RpcError.from(error));
    }
    // Checked here, after the filters: what goes on the wire is what the rules allow (Metadata).
    const metadata = target.metadata;
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
      codec: call.state.codec,
      compression: call.compression,
      // The call's deadline, also for an attempt with its own (attemptTimeout): the client cuts
      // the attempt itself and cancels it on the wire, so the server cannot answer
      // DEADLINE_EXCEEDED first and make a retryable timeout look like a final one.
      deadline: call.deadline,
      metadata: entries > 0 ? metadata : undefined,
      body: call.body!,
    };
    const id = channel.call(request, (error, response) => {
      target.channel = undefined;
      if (error) this.failed(call, target, sink, address, error);
      else this.receive(call, target, sink, address, response!);
    });
    if (!target.stopped) {
      target.channel = channel;
      target.requestId = id;
    }
  }

  private receive(call: ClientCall, target: Transmission, sink: CallSink, address: string, response: ResponseMessage): void {
    // The transport took the response apart but found it over a limit (metadata caps).
    if (response.violation !== undefined) return sink.fail(response.violation);
    if (response.metadata) target.responseMetadata = response.metadata;
    if (response.status !== 0) {
      const error = RpcError.fromWire(response.status, response.message ?? '', response.details, response.metadata, response.stack, progressFromWire(response.progress), retryableFromWire(response.retryable));
      return this.failed(call, target, sink, address, error);
    }
    // A call that is its own attempt reports to the budget here (a runner does it for its attempts).
    if (target === call && call.policy.retries) call.state.budget?.succeeded();
    const { serializers } = call.state;
    if (response.compression !== Compression.NONE) {
      decompress(response.compression, response.body, this.maxDecompressedSize).then(
        (bytes) => decodeInto(sink, serializers.decodeResponse, response.codec, bytes),
        (error: unknown) => sink.fail(RpcError.from(error)),
      );
    } else {
      decodeInto(sink, serializers.decodeResponse, response.codec, response.body);
    }
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

  /** What the client keeps per method, worked out on its first call. */
  private stateOf(service: string, method: string): MethodState {
    // Two maps rather than one keyed by service + method: no string is built per call.
    let methods = this.methods.get(service);
    if (methods === undefined) this.methods.set(service, (methods = new Map()));
    let state = methods.get(method);
    if (state) return state;
    let codec = 'json';
    let serializers: MethodState['serializers'] | undefined;
    for (const candidate of this.codecs) {
      serializers = candidate.forMethod(service, method);
      if (serializers) {
        codec = candidate.name;
        break;
      }
    }
    const policy = resolvePolicy(this.layers(service, method));
    const schema = this.methodSchemas.get(service)?.get(method);
    state = {
      codec,
      serializers: serializers!,
      declared: schema?.stream,
      policy,
      chainStopped: withoutRetries(policy),
      // One per service, used only by calls whose policy retries or hedges (a call may choose to).
      budget: this.budgetOf(service),
      latency: undefined,
    };
    methods.set(method, state);
    return state;
  }

  /** The settings of a method, outermost first: the client's, the schema's, the service's, the method's. */
  private layers(service: string, method: string): (PolicyLayer | undefined)[] {
    const schema = this.methodSchemas.get(service)?.get(method);
    const servicePolicy = this.servicePolicies[service];
    const { methods: _methods, route: _route, ...serviceLayer } = servicePolicy ?? {};
    return [
      { failMode: this.failMode },
      schema === undefined ? undefined : { idempotent: schema.idempotent, timeout: schema.timeout },
      serviceLayer,
      servicePolicy?.methods?.[method],
    ];
  }

  private callPolicy(service: string, method: string, options: CallOptions<unknown>): ResolvedPolicy {
    return resolvePolicy([...this.layers(service, method), { failMode: options.failMode, idempotent: options.idempotent }]);
  }

  private budgetOf(service: string): RetryBudget | undefined {
    if (this.budgetOptions === false) return undefined;
    let budget = this.budgets.get(service);
    if (budget === undefined) this.budgets.set(service, (budget = new RetryBudget(this.budgetOptions)));
    return budget;
  }
}

const NONE_TRIED: readonly string[] = Object.freeze([]);

/**
 * Whether a runner should take over a call whose first attempt failed: when its fail mode
 * retries, or when the failure never reached a handler (the transparent retry of every mode).
 */
function mayRetry(call: ClientCall, error: RpcError): boolean {
  return error.retryable && !call.settled && (call.policy.retries || (error.progress !== 'processed' && call.address === undefined));
}
const EMPTY_BODY = new Uint8Array(0);

function encodeRequestOf(stream: ClientStream): Uint8Array {
  try {
    return stream.state.serializers.encodeRequest(stream.request);
  } catch (error) {
    throw RpcError.is(error) ? error : errors.unencodableValue(stream.state.codec, 'request', error);
  }
}

/** A client stream's one result: its first message, once the stream ended well. */
async function resultOf(stream: ClientStream): Promise<unknown> {
  const first = await stream.inbound.next();
  if (first.done === true) throw errors.streamWithoutResult(stream.service, stream.method);
  // Read to the END, so that an error after the result is not lost.
  while ((await stream.inbound.next()).done !== true);
  return first.value;
}

function decodeInto(sink: CallSink, decode: (bytes: Uint8Array) => unknown, codec: string, bytes: Uint8Array): void {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (error) {
    return sink.fail(RpcError.is(error) ? error : errors.undecodableBody(codec, 'response', error));
  }
  sink.succeed(value);
}
