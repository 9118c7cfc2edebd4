import type { Filter, MethodOptions, ServerOptions } from '@svc/core';
import { authenticate } from './auth-filter.js';
import { bulkhead, type Bulkhead } from './bulkhead.js';
import { bulkheadFromMethodOptions, bulkheadLimits, type BulkheadOptions } from './bulkhead-options.js';
import { loadShedder, type LoadShedder } from './load-shedder.js';
import { sheddingSettings } from './load-shedding-options.js';
import { rateLimit, type RateLimiter } from './rate-limit.js';
import { checkClusterOptions, checkRateLimitOptions, type RateLimitOptions } from './rate-limit-options.js';
import { anyLevelSets, checkPolicyTree, nearestSetting, type KeyCheck, type PolicyTree } from './policy-levels.js';
import { invalidPolicy } from './resilience-errors.js';
import type { ServerPolicy } from './server-policy.js';

/** A server's resilience, made from its policy: spread it into ServerOptions with apply(). */
export interface ServerResilience {
  /** Server filters, cheapest refusal first: shedding, rate limit, auth, bulkhead. */
  readonly filters: readonly Filter[];
  /** The shedder (its state), when the policy sheds. */
  readonly shedder: LoadShedder | undefined;
  /** The bulkheads (their slots and queues). */
  readonly bulkhead: Bulkhead;
  /** The options with its filters inside yours (a span of yours sees a call it refused). */
  apply(options: ServerOptions): ServerOptions;
  /** Stops the shedder's sampler and the limiters' timers and connections; queued calls are refused. */
  close(): Promise<void>;
}

const PART_CHECKS: Readonly<Record<string, KeyCheck>> = {
  rateLimit: (value, path) => void (value === false || checkRateLimitOptions(value, path)),
  bulkhead: (value, path) => void (value === false || bulkheadLimits(path, value)),
  // An empty list is a setting too: any authenticated caller.
  roles: (value, path) => {
    if (!(Array.isArray(value) && value.every((role) => typeof role === 'string' && role !== ''))) throw invalidPolicy(path, 'expected a list of non-empty role names');
  },
  anonymous: (value, path) => {
    if (typeof value !== 'boolean') throw invalidPolicy(path, 'expected true or false');
  },
};
const TOP_CHECKS: Readonly<Record<string, KeyCheck>> = {
  rateLimitCluster: (value, path) => checkClusterOptions(value, path),
  // authenticate() checks its own options when it is made, below.
  auth: (value, path) => {
    if (typeof value !== 'object' || value === null) throw invalidPolicy(path, 'expected the options of authenticate(): { verifiers, policy?, metadataKey?, apiKeyMetadataKey? }');
    for (const key of ['roles', 'anonymous']) if (Object.hasOwn(value, key)) throw invalidPolicy(`${path}.${key}`, `set ${key} beside auth, at the level it applies to (the defaults, a service or a method)`);
  },
  shedding: (value) => void (value === false || sheddingSettings(value as object)),
};

const declaredRoles = (options: Readonly<MethodOptions>): readonly string[] | undefined => options.roles;
const declaredBulkhead = (options: Readonly<MethodOptions>): BulkheadOptions | undefined => bulkheadFromMethodOptions('', '', options);

/**
 * A server's resilience from one policy: defaults for every call, then per service, then per
 * method (the nearest level wins, part by part; false turns a part off), with the method's
 * `@Method({ concurrency, queue, roles })` between the service's level and the defaults. Checked
 * whole now: an unknown key or a bad value throws INVALID_ARGUMENT naming its path. Health checks
 * never pass through it (core answers them before the server's filters).
 *
 *     const resilience = serverResilience({
 *       shedding: { targetDelayMs: 10 },
 *       auth: { verifiers: jwtVerifier({ secret, issuer: 'https://auth.example' }) },
 *       rateLimit: { key: { metadata: 'x-tenant' }, reservoir: 100, refreshIntervalMs: 1_000 },
 *       services: { Orders: { roles: ['clerk'], methods: { status: { anonymous: true } } } },
 *     });
 *     const server = new Server(resilience.apply({ transport: tcp() })).register(new Orders());
 */
export function serverResilience(policy: ServerPolicy): ServerResilience {
  checkPolicyTree(policy, 'serverResilience', TOP_CHECKS, PART_CHECKS);
  const tree = policy as PolicyTree;
  if (policy.auth === undefined && (anyLevelSets(tree, 'roles') || anyLevelSets(tree, 'anonymous'))) {
    throw invalidPolicy('serverResilience', 'roles and anonymous need auth: give auth: { verifiers: … }');
  }
  const filters: Filter[] = [];
  const shedder = policy.shedding === undefined || policy.shedding === false ? undefined : loadShedder(policy.shedding);
  if (shedder !== undefined) filters.push(shedder.filter);
  let limiter: RateLimiter | undefined;
  if (anyLevelSets(tree, 'rateLimit')) {
    limiter = rateLimit((service, method) => nearestSetting<RateLimitOptions>(tree, 'rateLimit', service, method, undefined), policy.rateLimitCluster === undefined ? {} : { cluster: policy.rateLimitCluster });
    filters.push(limiter.filter);
  }
  if (policy.auth !== undefined) {
    filters.push(
      authenticate({
        ...policy.auth,
        roles: (service, method, options) => nearestSetting<readonly string[]>(tree, 'roles', service, method, options, declaredRoles),
        anonymous: (service, method, options) => nearestSetting<boolean>(tree, 'anonymous', service, method, options),
      }),
    );
  }
  // Always there: `@Method({ concurrency })` alone asks for a bulkhead. A method without one costs a table read.
  const compartments = bulkhead((service, method, options) => nearestSetting<BulkheadOptions>(tree, 'bulkhead', service, method, options, declaredBulkhead));
  filters.push(compartments.filter);
  return {
    filters,
    shedder,
    bulkhead: compartments,
    apply: (options) => ({ ...options, filters: [...(options.filters ?? []), ...filters] }),
    close: async () => {
      shedder?.close();
      compartments.close();
      await limiter?.close();
    },
  };
}
