import type { ServiceNode } from '../client/registry.js';

/** One service on one listener, as a server registers it. */
export interface ServiceInstance extends ServiceNode {
  readonly service: string;
  /** Unique per listener (the same for every service on it): letters, digits, '-' and '_'. */
  readonly instance: string;
}

/** What a registrar gave back for one listener's instances. */
export interface Registration {
  /** Removes the instances from the registry (a server calls it first in close(), before draining). */
  deregister(): Promise<void>;
}

/**
 * The server side of a registry: a Server with `registrar` registers each listener's services once
 * it listens, in one call, so that a backend can hold them under one lease; the registration
 * stays alive (refreshed, renewed after an outage) until `deregister`.
 */
export interface Registrar {
  register(instances: readonly ServiceInstance[]): Promise<Registration>;
}
