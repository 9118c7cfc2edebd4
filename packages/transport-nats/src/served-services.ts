import type { Dispatcher } from '@svc/core/transport';
import { checkToken } from './subjects.js';
import { servicesUnknown } from './nats-errors.js';

/** A service as a listener serves it: its name, contract version and method names. */
export interface ServedService {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly methods: readonly string[];
}

/**
 * NATS routes by subject, so a listener must know which services to subscribe. It asks the
 * dispatcher for its `serviceDefinitions` (an @svc Server has them); services registered after
 * `listen()` are not served on that listener.
 */
export function servedServices(dispatcher: Dispatcher): ServedService[] {
  const definitions = dispatcher.serviceDefinitions;
  if (definitions === undefined) throw servicesUnknown();
  const services = definitions.map((s) => ({
    name: s.name,
    version: s.options.version ?? '0.0.0',
    description: s.options.description ?? '',
    methods: [...s.methods.keys()],
  }));
  for (const s of services) {
    checkToken('service name', s.name);
    for (const m of s.methods) checkToken(`method name ${s.name}.`, m);
  }
  return services;
}
