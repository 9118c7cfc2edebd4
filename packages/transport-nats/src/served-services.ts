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

interface ServiceDefinitionLike {
  readonly name: string;
  readonly options: { readonly version?: string; readonly description?: string };
  readonly methods: ReadonlyMap<string, unknown>;
}

/**
 * NATS routes by subject, so a listener must know which services to subscribe. It asks the
 * dispatcher (an @svc Server has `serviceDefinitions`); services registered after `listen()`
 * are not served on that listener.
 */
export function servedServices(dispatcher: Dispatcher): ServedService[] {
  const d = dispatcher as Dispatcher & { serviceDefinitions?: readonly ServiceDefinitionLike[]; serviceNames?: readonly string[] };
  let services: ServedService[];
  if (d.serviceDefinitions !== undefined) {
    services = d.serviceDefinitions.map((s) => ({
      name: s.name,
      version: s.options.version ?? '0.0.0',
      description: s.options.description ?? '',
      methods: [...s.methods.keys()],
    }));
  } else if (d.serviceNames !== undefined) {
    services = d.serviceNames.map((name) => ({ name, version: '0.0.0', description: '', methods: [] }));
  } else {
    throw servicesUnknown();
  }
  for (const s of services) {
    checkToken('service name', s.name);
    for (const m of s.methods) checkToken(`method name ${s.name}.`, m);
  }
  return services;
}
