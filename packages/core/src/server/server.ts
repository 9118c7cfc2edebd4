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
import { transportFor, type Dispatcher, type Listener, type ReplyTarget, type RequestMessage, type Transport } from '../transport/transport.js';
import { callContextInternals, type CallContext } from './call-context.js';
import { ServerCall } from './server-call.js';
import { ServerEvents } from '../events/server-events.js';
import { CallTable } from '../transport/call-table.js';

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
  /** Compress response bodies above a threshold. */
  compression?: CompressionOptions;
  /** Send handler stack traces to callers (development only). Default false. */
  exposeStack?: boolean;
  /** How long `close()` waits for calls in flight before it cuts them off. Default 10 s. */
  drainTimeout?: number;
  /**
   * The most bytes a compressed request body may inflate to; beyond, the call is answered
   * RESOURCE_EXHAUSTED before its handler runs, having cost at most this much memory. Default
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
}

/** One registered method, with its serializers resolved per codec on first use. */
export interface MethodEntry {
  readonly service: ServiceDefinition;
  readonly definition: MethodDefinition;
  readonly invoke: (request: unknown, ctx: CallContext) => unknown;
  readonly serializers: Map<string, MethodSerializers>;
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
  /** @internal The same filters around a terminal that throws why the call is refused. */
  readonly refusalChain: Terminal;
  /** @internal Whether there are filters (else a refused call is answered at once). */
  readonly filtered: boolean;
  readonly maxDecompressedSize: number;
  readonly metadataLimits: MetadataLimits;
  private readonly transports: readonly Transport[];
  private readonly codecs = new Map<string, Codec>();
  private readonly services = new Map<string, Map<string, MethodEntry>>();
  private readonly definitions = new Map<string, ServiceDefinition>();
  /** The @Subscribe handlers of the registered services and their subscriptions. */
  private readonly events: ServerEvents;
  private readonly listeners: Listener[] = [];
  private readonly inflight = new CallTable<number, ServerCall>();
  private lastCallKey = 0;
  private readonly drainTimeout: number;
  private idleWaiter: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.transports = Array.isArray(options.transport) ? options.transport : [options.transport as Transport];
    const schemaDriven = options.schemas ? schemaCodecs(options.schemas) : [];
    for (const codec of [jsonCodec(), ...schemaDriven, ...(options.codecs ?? [])]) this.codecs.set(codec.name, codec);
    this.compressor = new Compressor(options.compression);
    this.exposeStack = options.exposeStack ?? false;
    this.drainTimeout = options.drainTimeout ?? 10_000;
    this.maxDecompressedSize = resolveMaxDecompressedSize(options.maxDecompressedSize);
    this.metadataLimits = metadataLimits(options);
    this.logger = options.logger ?? consoleLogger;
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
    this.chain = composeFilters(filters, handler);
    this.refusalChain = composeFilters(filters, (call) => Promise.reject(internals.refusalOf(call as CallContext)));
    this.filtered = filters.length > 0;
    // Event deliveries pass through the same filters (docs/events.md).
    this.events = new ServerEvents(() => this.logger, (name) => this.codecs.get(name), filters);
  }

  /** Registers an instance of a @Service class. */
  register(instance: object): this {
    const definition = getServiceDefinition(instance);
    if (!definition) throw errors.invalidServiceClass(instance.constructor?.name ?? String(instance));
    if (this.services.has(definition.name)) throw errors.duplicateService(definition.name);
    const methods = new Map<string, MethodEntry>();
    for (const method of definition.methods.values()) {
      const fn = (instance as Record<string, unknown>)[method.property] as (request: unknown, ctx: CallContext) => unknown;
      methods.set(method.name, { service: definition, definition: method, invoke: fn.bind(instance), serializers: new Map() });
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

  /** Starts listening; resolves with the bound address (the real port when 0 was asked for). */
  async listen(address: string): Promise<string> {
    if (this.closing) throw errors.serverShuttingDown();
    const transport = transportFor(this.transports, address);
    if (!transport) throw errors.noTransport(address, this.transports.flatMap((t) => t.schemes));
    const listener = await transport.listen(address, this);
    this.listeners.push(listener);
    await this.events.attach(transport, address);
    return listener.address;
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

  /** @internal The registered method, or undefined. */
  findMethod(service: string, method: string): MethodEntry | undefined {
    return this.services.get(service)?.get(method);
  }

  /** @internal Why a service or method is not served: UNIMPLEMENTED, naming what is. */
  notFound(service: string, method: string): RpcError {
    const methods = this.services.get(service);
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
  finished(call: ServerCall): void {
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
