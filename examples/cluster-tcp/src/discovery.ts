// Where the servers register and the client looks: one etcd, from the environment.
//   ETCD_ENDPOINTS  client URLs, comma-separated (default http://127.0.0.1:2379)
//   ETCD_PREFIX     key prefix (default /svc/services; the demo gives each run its own)
import { etcdRegistry, type EtcdRegistry } from '@svc/registry-etcd';

/**
 * Lease TTL of a registration: a server that dies without deregistering (kill -9) leaves etcd, and
 * so every client's set, at most this long after its last keep-alive (sent every ttl/3). Short
 * for the demo; the default is 10 s.
 */
export const LEASE_TTL_MS = 2_000;

export function etcdHosts(): string {
  return process.env.ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379';
}

export function etcdFromEnv(): EtcdRegistry {
  return etcdRegistry({ hosts: etcdHosts(), prefix: process.env.ETCD_PREFIX, ttl: LEASE_TTL_MS });
}
