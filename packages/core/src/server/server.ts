import { type Codec, type MethodSerializers } from '../codec/codec.js';
import { jsonCodec } from '../codec/json-codec.js';
import { schemaCodecs } from '../codec/protobuf-json-codec.js';
import type { ServiceSchema } from '../codec/protobuf-schema.js';
import { Compressor, resolveMaxDecompressedSize, type CompressionOptions } from '../codec/compression.js';
import { metadataLimits, type MetadataLimits } from '../metadata.js';
import { composeFilters, type Filter, type Terminal } from '../filter/filter.js';
import { getServiceDefinition, type MethodDefinition, type ServiceDefinition } from '../decorators/service-definition.js';
import * as errors from '../errors/framework-errors.js';
import type { RpcError } from '../errors/rpc-error.js';
import { consoleLogger, type Logger } from '../logger.js';
import { transportFor, type Dispatcher, type Listener, type ReplyTarget, type RequestMessage, type StreamReceiver, type StreamSender, type Transport } from '../transport/transport.js';
import { callContextInternals, type CallContext } from './call-context.js';
import { ServerCall } from './server-call.js';
import { ServerStream } from './server-stream.js';
import { streamServingOf, type StreamContext, type StreamShape } from './stream-context.js';
import { resolveWindowBudget, type WindowBudget } from '../stream/window-budget.js';
import { resolveStreamWindow } from '../stream/outbound-credit.js';
import { ServerEvents } from '../events/server-events.js';
import { CallTable } from '../transport/call-table.js';
import type { Registrar, Registration } from './registrar.js';
import { advertisedAddress, instancesOf, type AdvertiseOptions } from './advertised-instances.js';
import { Health, HEALTH_DEFINITION, HEALTH_SERVICE } from './health.js';

export interface ServerOptions {
  /** One transport or several; `listen(address)` picks by the address scheme. */
  transport: Transport | readonly Transport[];
  /** Server filters, outermost first, composed once. */
  filters?: readonly Filter[];
  /**
   * The schemas svc-gen generated (`import { schemas } from './generated/index.js'`): requests to
   * those services are accepted as protobuf or JSON and checked against their types before the
   * handler runs (a bad field is INVALID_ARGUMENT naming it).
   */
  schemas?: readonly ServiceSchema[];
  /** More codecs the server accepts, by name; JSON is always among them. */
  codecs?: readonly Codec[];
  /** Compress response bodies and stream messages above a threshold (each message on its own). */
  compression?: CompressionOptions;
  /** Send handler stack traces to callers (development only). Default false. */
  exposeStack?: boolean;
  /** How long `close()` waits for calls in flight before it cuts them off. Default 10 s. */
  drainTimeout?: number;
  /**
   * The most bytes a compressed request body (or a client's stream message) may inflate to;
   * beyond, the call is answered RESOURCE_EXHAUSTED before its handler runs (the stream is ended),
   * having cost at most this much memory. Default
   * 4 MiB, the frame size. (Uncompressed bodies are bounded by the transport's maxFrameSize.)
   */
  maxDecompressedSize?: number;
  /**
   * Response metadata a handler may send: entries (default 64) and bytes of keys and values in
   * UTF-8 (default 16 KiB). `ctx.sendMetadata` refuses more at once (RESOURCE_EXHAUSTED). What the
   * server accepts in requests is its transport's limit (e.g. `tcp({ maxMetadataEntries })`).
   */
  maxMetadataEntries?: number;
  maxMetadataBytes?: number;
  logger?: Logger;
  /**
   * Registers every listener's services once it listens (one call per listener) and deregisters
   * them first in close(), before draining: e.g. etcdRegistry(...), natsRegistrar(...). A
   * registration that fails makes listen() reject (registrationFailed) with that listener closed.
   */
  registrar?: Registrar;
  /**
   * The host to register for a listener bound to a wildcard address (0.0.0.0, ::), e.g. the pod's
   * IP. Default: this host's first external IPv4 address. `listen(address, { advertise })` gives a
   * listener's whole address instead.
   */
  advertiseHost?: string;
  /** Tags registered with every instance, e.g. { zone: 'eu' }, for the clients' tag routing. */
  tags?: Readonly<Record<string, string>>;
  /** Weight registered with every instance (relative share of calls for weighted selectors). Default 1. */
  weight?: number;
  /**
   * Bytes of client messages each stream may hold here before the client must wait for credit
   * (docs/streams.md, flow control). Default 256 KiB; at least 64 KiB, the protocol's initial window.
   */
  streamWindow?: number;
  /**
   * The most a stream's receive window grows to while its handler keeps up and the window is what
   * holds the client back (docs/streams.md, flow control). Default 4 MiB, or streamWindow when larger.
   */
  maxStreamWindow?: number;
  /** Bytes all of this server's streams together may grow their windows by. Default 64 MiB; 0: windows never grow. */
  streamWindowBudget?: number;
}

/** How one listener is registered (ServerOptions.registrar). */
export interface ListenOptions {
  /** The address to register instead of the bound one (NAT, a port mapping, a load balancer). */
  advertise?: string;
  /** false: do not register this listener. Default true when the server has a registrar. */
  register?: boolean;
}

/** How long close() waits for the registrar to deregister before it drains anyway. */
const DEREGISTER_TIMEOUT_MS = 5_000;

/** One registered method, with its serializers resolved per codec on first use. */
export interface MethodEntry {
  readonly service: ServiceDefinition;
  readonly definition: MethodDefinition;
  /** For unary calls; a method whose handler is an `async *` generator refuses them here (streamMethodCalledUnary). */
  readonly invoke: (request: unknown, ctx: CallContext) => unknown;
  /** For streams: the handler as it is. */
  readonly invokeStream: (request: unknown, ctx: CallContext) => unknown;
  readonly serializers: Map<string, MethodSerializers>;
  /** Answered without the server's filters (the health service: no auth, no limits in its way). */
  readonly unfiltered?: boolean;
  /** The stream shape svc-gen's schema declares (MethodSchema.stream): a stream of another shape is refused before its handler. */
  readonly declared?: StreamShape;
}

/**
 * Serves registered services on one or more transports. `close()` shuts down gracefully: stop
 * accepting, tell clients to go away, let calls in flight finish (up to the drain timeout), close.
 */
export class Server implements Dispatcher {
  readonly logger: Logger;
  readonly exposeStack: boolean;
  readonly compressor: Compressor;
  /** @internal The filters around the handler, composed once. */
  readonly chain: Terminal;
  /** @internal The handler alone, for methods answered without the filters (MethodEntry.unfiltered). */
  readonly handler: Terminal;
  /**
   * What the server's health service (SvcHealth) answers: SERVING once it listens, NOT_SERVING from
   * the moment close() begins, and what the application sets per service meanwhile.
   */
  readonly health: Health;
  /** @internal The same filters around a terminal that throws why the call is refused. */
  readonly refusalChain: Terminal;
  /** @internal Whether there are filters (else a refused call is answered at once). */
  readonly filtered: boolean;
  readonly maxDecompressedSize: number;
  readonly metadataLimits: MetadataLimits;
  /** @internal The filters around a stream's handler and its messages: next() settles when the stream ends. */
  readonly streamChain: Terminal;
  /** @internal The stream terminal alone (MethodEntry.unfiltered). */
  readonly streamHandler: Terminal;
  private readonly streamWindow: number;
  /** @internal What this server's streams may grow their receive windows by. */
  readonly windowBudget: WindowBudget;
  private readonly transports: readonly Transport[];
  private readonly codecs = new Map<string, Codec>();
  private readonly services = new Map<string, Map<string, MethodEntry>>();
  private readonly definitions = new Map<string, ServiceDefinition>();
  /** Stream shapes the schemas declare, by service and method. */
  private readonly declaredShapes = new Map<string, Map<string, StreamShape>>();
  private readonly healthMethods: Map<string, MethodEntry>;
  /** The @Subscribe handlers of the registered services and their subscriptions. */
  private readonly events: ServerEvents;
  private readonly listeners: Listener[] = [];
  private readonly registrar: Registrar | undefined;
  private readonly advertise: AdvertiseOptions;
  private readonly registrations: { readonly address: string; readonly registration: Registration }[] = [];
  /** Calls and streams being served, for the drain. */
  private readonly inflight = new CallTable<number, ServerCall | ServerStream>();
  private lastCallKey = 0;
  private readonly drainTimeout: number;
  private idleWaiter: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.transports = Array.isArray(options.transport) ? options.transport : [options.transport as Transport];
    const schemaDriven = options.schemas ? schemaCodecs(options.schemas) : [];
    for (const schema of options.schemas ?? []) {
      const streams = schema.methods.filter((m) => m.stream !== undefined);
      if (streams.length > 0) this.declaredShapes.set(schema.service, new Map(streams.map((m) => [m.name, m.stream!])));
    }
    for (const codec of [jsonCodec(), ...schemaDriven, ...(options.codecs ?? [])]) this.codecs.set(codec.name, codec);
    this.compressor = new Compressor(options.compression);
    this.exposeStack = options.exposeStack ?? false;
    this.drainTimeout = options.drainTimeout ?? 10_000;
    this.maxDecompressedSize = resolveMaxDecompressedSize(options.maxDecompressedSize);
    this.metadataLimits = metadataLimits(options);
    this.logger = options.logger ?? consoleLogger;
    this.registrar = options.registrar;
    this.advertise = { advertiseHost: options.advertiseHost, tags: options.tags, weight: options.weight };
    const filters = options.filters ?? [];
    const internals = callContextInternals();
    // Not `async`: a handler's own promise is passed on as it is, one promise and hop fewer per call.
    const handler: Terminal = (call) => {
      const ctx = call as CallContext;
      // From here a failure means `processed`: the handler may have done its work (see Progress).
      ctx.handlerStarted = true;
      try {
        return Promise.resolve(internals.entryOf(ctx)!.invoke(ctx.request, ctx));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    this.handler = handler;
    this.chain = composeFilters(filters, handler);
    const streamHandler: Terminal = (call) => streamServingOf(call as CallContext).serve(call as StreamContext);
    this.streamHandler = streamHandler;
    this.streamChain = composeFilters(filters, streamHandler);
    this.streamWindow = resolveStreamWindow(options.streamWindow);
    this.windowBudget = resolveWindowBudget(options);
    this.health = new Health((service) => this.services.has(service));
    const health = this.health;
    this.healthMethods = new Map([
      ['check', { service: HEALTH_DEFINITION, definition: HEALTH_DEFINITION.methods.get('check')!, invoke: (request) => health.check(request), invokeStream: (request) => health.check(request), serializers: new Map(), unfiltered: true }],
      ['watch', { service: HEALTH_DEFINITION, definition: HEALTH_DEFINITION.methods.get('watch')!, invoke: (request, ctx) => health.watch(request, ctx), invokeStream: (request, ctx) => health.watch(request, ctx), serializers: new Map(), unfiltered: true }],
    ]);
    this.refusalChain = composeFilters(filters, (call) => Promise.reject(internals.refusalOf(call as CallContext)));
    this.filtered = filters.length > 0;
    // Event deliveries pass through the same filters (docs/events.md).
    this.events = new ServerEvents(() => this.logger, (name) => this.codecs.get(name), filters);
  }

  /** Registers an instance of a @Service class. */
  register(instance: object): this {
    const definition = getServiceDefinition(instance);
    if (!definition) throw errors.invalidServiceClass(instance.constructor?.name ?? String(instance));
    if (this.services.has(definition.name) || definition.name === HEALTH_SERVICE) throw errors.duplicateService(definition.name);
    const methods = new Map<string, MethodEntry>();
    for (const method of definition.methods.values()) {
      const fn = (instance as Record<string, unknown>)[method.property] as (request: unknown, ctx: CallContext) => unknown;
      const bound = fn.bind(instance);
      // Decided here, once: a unary call pays nothing for streams. A handler that returns an
      // AsyncIterable without being a generator cannot be told apart before it runs, unless
      // svc-gen's schema says it is a stream.
      const declared = this.declaredShapes.get(definition.name)?.get(method.name);
      const service = definition.name;
      const invoke =
        declared !== undefined
          ? refuseUnary(() => errors.calledAsOtherShape(service, method.name, declared, 'unary').withProgress('processed'))
          : isAsyncGeneratorFunction(fn)
            ? refuseUnary(() => errors.streamMethodCalledUnary(service, method.name))
            : bound;
      methods.set(method.name, { service: definition, definition: method, invoke, invokeStream: bound, serializers: new Map(), ...(declared === undefined ? {} : { declared }) });
    }
    this.services.set(definition.name, methods);
    this.definitions.set(definition.name, definition);
    this.events.add(instance, definition.name);
    return this;
  }

  /** Names of the registered services. */
  get serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /** The registered services' definitions (name, version, methods), for transports and registries. */
  get serviceDefinitions(): ServiceDefinition[] {
    return [...this.services.keys()].map((name) => this.definitions.get(name)!);
  }

  /**
   * Starts listening; resolves with the bound address (the real port when 0 was asked for). With
   * a registrar, the listener's services are registered before it resolves.
   */
  async listen(address: string, options: ListenOptions = {}): Promise<string> {
    if (this.closing) throw errors.serverShuttingDown();
    const transport = transportFor(this.transports, address);
    if (!transport) throw errors.noTransport(address, this.transports.flatMap((t) => t.schemes));
    const listener = await transport.listen(address, this);
    this.listeners.push(listener);
    if (this.registrar !== undefined && options.register !== false) await this.registerListener(listener, options.advertise);
    await this.events.attach(transport, address);
    this.health.set('', 'SERVING');
    return listener.address;
  }

  /** Registers a listener's services; on failure closes the listener again and rejects. */
  private async registerListener(listener: Listener, advertise: string | undefined): Promise<void> {
    const address = advertisedAddress(listener.address, advertise, this.advertise);
    let registration: Registration;
    try {
      registration = await this.registrar!.register(instancesOf(address, this.serviceDefinitions, this.advertise));
    } catch (error) {
      this.listeners.splice(this.listeners.indexOf(listener), 1);
      await listener.close().catch(() => {});
      throw errors.registrationFailed(address, (error as Error)?.message ?? String(error), error);
    }
    if (this.closing) {
      // close() began while the registrar worked: it did not see this one.
      await registration.deregister().catch(() => {});
      throw errors.serverShuttingDown();
    }
    this.registrations.push({ address, registration });
  }

  get addresses(): string[] {
    return this.listeners.map((l) => l.address);
  }

  /** Number of calls being handled now. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** The Dispatcher side: transports hand every request here. */
  dispatch(request: RequestMessage, replyTo: ReplyTarget): ServerCall {
    // Keys wrap below 2^30 (small integers stay cheap keys); a call never lives that many calls.
    const key = (this.lastCallKey = (this.lastCallKey + 1) & 0x3fffffff);
    const call = new ServerCall(this, request, replyTo, key);
    this.inflight.set(key, call);
    void call.run();
    return call;
  }

  /** The Dispatcher side for streams (a REQUEST with `stream` set): served like calls, counted in the drain. */
  dispatchStream(request: RequestMessage, sender: StreamSender): StreamReceiver {
    const key = (this.lastCallKey = (this.lastCallKey + 1) & 0x3fffffff);
    const stream = new ServerStream(this, request, sender, key, this.streamWindow);
    this.inflight.set(key, stream);
    void stream.run();
    return stream.receiver();
  }

  /** @internal The registered method, or undefined. */
  findMethod(service: string, method: string): MethodEntry | undefined {
    return this.services.get(service)?.get(method) ?? (service === HEALTH_SERVICE ? this.healthMethods.get(method) : undefined);
  }

  /** @internal Why a service or method is not served: UNIMPLEMENTED, naming what is. */
  notFound(service: string, method: string): RpcError {
    const methods = service === HEALTH_SERVICE ? this.healthMethods : this.services.get(service);
    if (!methods) return errors.unknownService(service, this.serviceNames);
    return errors.unknownMethod(service, method, [...methods.keys()]);
  }

  /** @internal The serializers of a method for the codec a request names. */
  serializersFor(entry: MethodEntry, codecName: string): MethodSerializers {
    let serializers = entry.serializers.get(codecName);
    if (serializers) return serializers;
    const codec = this.codecs.get(codecName);
    if (!codec) throw errors.unsupportedCodec(codecName, [...this.codecs.keys()]);
    serializers = codec.forMethod(entry.service.name, entry.definition.name);
    if (!serializers) throw errors.unsupportedCodec(`${codecName} for ${entry.service.name}.${entry.definition.name}`, ['json']);
    entry.serializers.set(codecName, serializers);
    return serializers;
  }

  /** @internal Called once per call when it has replied or been cancelled. */
  finished(call: ServerCall | ServerStream): void {
    this.inflight.delete(call.key);
    if (this.inflight.size === 0 && this.idleWaiter) this.idleWaiter();
  }

  /**
   * Graceful shutdown: stop accepting, send GOAWAY, wait for the calls in flight and for
   * clients to leave (at most `drainTimeout` ms), then cut off what is left and close.
   */
  close(options: { drainTimeout?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.drainTimeout ?? this.drainTimeout);
    return this.closing;
  }

  private async shutdown(drainTimeout: number): Promise<void> {
    // Health watchers hear NOT_SERVING first, before the registry and the drain.
    this.health.close();
    // Out of the registry first, so that clients stop picking this server before it drains.
    // Only awaited when there is something to deregister: without, the drain starts at once, as before.
    if (this.registrations.length > 0) await this.deregister(Math.min(drainTimeout, DEREGISTER_TIMEOUT_MS));
    const drained = Promise.all([...this.listeners.map((l) => l.drain()), this.whenIdle(), this.events.drain()]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), drainTimeout);
    });
    const late = await Promise.race([drained.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      const reason = errors.drainTimedOut(drainTimeout);
      for (const call of this.inflight.values()) call.fail(reason);
      if (this.inflight.size > 0) this.logger.warn(`${this.inflight.size} call(s) cut off by the drain timeout`);
    }
    await this.events.close();
    await Promise.all(this.listeners.map((l) => l.close()));
    this.listeners.length = 0;
  }

  /** Every registration, at once, waiting at most `ms`; what fails or is late is logged, not thrown. */
  private async deregister(ms: number): Promise<void> {
    const registrations = this.registrations.splice(0);
    if (registrations.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms);
    });
    const each = registrations.map(({ address, registration }) => {
      let done = false;
      const deregistered = Promise.resolve()
        .then(() => registration.deregister())
        .then(
          () => undefined,
          (error: unknown) => this.logger.warn(errors.deregistrationFailed(address, (error as Error)?.message ?? String(error), error).message),
        )
        .finally(() => (done = true));
      const timedOut = late.then(() => {
        if (!done) this.logger.warn(errors.deregistrationFailed(address, `no answer within ${ms} ms`).message);
      });
      return Promise.race([deregistered, timedOut]);
    });
    await Promise.all(each);
    clearTimeout(timer);
  }

  private whenIdle(): Promise<void> {
    if (this.inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiter = () => {
        this.idleWaiter = undefined;
        resolve();
      };
    });
  }
}

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

function isAsyncGeneratorFunction(fn: unknown): boolean {
  return typeof fn === 'function' && fn instanceof (AsyncGeneratorFunction as typeof Function);
}

/** What `invoke()` of a stream method meets: a clear error, not an encoded generator object. */
/** A unary `invoke` that fails the call with a fresh error, for a method that is a stream. */
function refuseUnary(error: () => RpcError): () => never {
  return () => {
    throw error();
  };
}
