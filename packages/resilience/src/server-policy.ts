import type { AuthenticateOptions } from './auth-filter.js';
import type { BulkheadOptions } from './bulkhead-options.js';
import type { SheddingOptions } from './load-shedding-options.js';
import type { ClusterLimitOptions, RateLimitOptions } from './rate-limit-options.js';

/** The parts a server policy sets at every level (defaults, a service, a method); false turns a part off there. */
export interface ServerPartsPolicy {
  /** A limit on the calls this server accepts (rateLimit). */
  rateLimit?: RateLimitOptions | false;
  /** At most so many calls running at once, more waiting (bulkhead); over `@Method({ concurrency, queue })`. */
  bulkhead?: BulkheadOptions | false;
  /** The caller must hold one of these roles (needs `auth`); over `@Method({ roles })`. An empty list: any authenticated caller. */
  roles?: readonly string[];
  /** Open to callers without credentials (credentials that are sent are still checked). Needs `auth`. */
  anonymous?: boolean;
}

export interface ServerServicePolicy extends ServerPartsPolicy {
  methods?: Readonly<Record<string, ServerPartsPolicy>>;
}

/** One server's whole policy: defaults for every call, then per service and per method. */
export interface ServerPolicy extends ServerPartsPolicy {
  /** Who may call: verifiers, a policy function, where credentials are read. Roles come from the levels and `@Method({ roles })`. */
  auth?: Omit<AuthenticateOptions, 'roles' | 'anonymous'>;
  /** Shares every rate limit of this policy across the processes using one Redis (rateLimit's `cluster` option). */
  rateLimitCluster?: ClusterLimitOptions;
  /** Refuse new calls early while the event loop runs late (loadShedder); off unless given ({} for the defaults). */
  shedding?: SheddingOptions | false;
  services?: Readonly<Record<string, ServerServicePolicy>>;
}
