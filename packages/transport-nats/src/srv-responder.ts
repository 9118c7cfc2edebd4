import type { Msg, NatsConnection, Subscription } from 'nats';
import type { ServiceStats } from './service-stats.js';

/** What the NATS services protocol tells about one @svc service on one instance. */
export interface SrvService {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly metadata: Record<string, string>;
  readonly endpoints: readonly { name: string; subject: string; queue_group: string }[];
  readonly stats: ServiceStats;
}

const VERBS = ['PING', 'INFO', 'STATS'] as const;
type Verb = (typeof VERBS)[number];

/**
 * Answers the NATS services protocol (`$SRV.PING|INFO|STATS`, `.<name>`, `.<name>.<id>`) for the
 * services of one listener, so that `nats micro ls`, `nats micro stats Arith` and any micro
 * client see @svc services with their request and error counts. nats.js has a micro services API
 * of its own, but it counts an error only when a handler throws synchronously and times only the
 * synchronous part; @svc handlers are async, so this answers with counts measured up to the reply.
 */
export class SrvResponder {
  private readonly subs: Subscription[] = [];

  constructor(nc: NatsConnection, id: string, services: readonly SrvService[]) {
    const answer = (verb: Verb, service: SrvService, msg: Msg): void => {
      msg.respond(JSON.stringify(this.body(verb, id, service)));
    };
    for (const verb of VERBS) {
      this.subs.push(nc.subscribe(`$SRV.${verb}`, { callback: (_e, msg) => services.forEach((s) => answer(verb, s, msg)) }));
      for (const service of services) {
        this.subs.push(nc.subscribe(`$SRV.${verb}.${service.name}`, { callback: (_e, msg) => answer(verb, service, msg) }));
        this.subs.push(nc.subscribe(`$SRV.${verb}.${service.name}.${id}`, { callback: (_e, msg) => answer(verb, service, msg) }));
      }
    }
  }

  stop(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.subs.length = 0;
  }

  private body(verb: Verb, id: string, s: SrvService): object {
    const identity = { name: s.name, id, version: s.version, metadata: s.metadata };
    switch (verb) {
      case 'PING':
        return { type: 'io.nats.micro.v1.ping_response', ...identity };
      case 'INFO':
        return { type: 'io.nats.micro.v1.info_response', ...identity, description: s.description, endpoints: s.endpoints.map((e) => ({ ...e, metadata: null })) };
      case 'STATS':
        return {
          type: 'io.nats.micro.v1.stats_response',
          ...identity,
          started: s.stats.started,
          endpoints: s.endpoints.map((e) => ({ ...e, ...s.stats.of(e.name) })),
        };
    }
  }
}
