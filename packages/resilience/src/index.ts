/// <reference types="node" preserve="true" />
// The policy: one per client and per server, over the parts below.
export { clientResilience, type ClientResilience } from './client-resilience.js';
export { serverResilience, type ServerResilience } from './server-resilience.js';
export { servicePolicy, type ClientPolicy, type ClientServicePolicy, type ClientMethodPolicy, type ClientPartsPolicy, type Fallback, type GeneratedClient, type MethodResults } from './client-policy.js';
export type { ServerPolicy, ServerServicePolicy, ServerPartsPolicy } from './server-policy.js';
export type { MethodSettings } from './method-table.js';

// Circuit breakers.
export { circuitBreakers, type CircuitBreakers, type BreakerStats } from './circuit-breakers.js';
export { BREAKER_DEFAULTS, type BreakerOptions, type PercentageBreakerOptions, type CountBreakerOptions, type CircuitBreakersOptions } from './breaker-options.js';
export type { BreakerState, BreakerStateChange, StateChangeListener } from './breaker-state.js';

// Rate limits.
export { rateLimit, type RateLimiter } from './rate-limit.js';
export type { RateLimitOptions, RateLimitKey, RateLimiterOptions, ClusterLimitOptions, ClusterRedis } from './rate-limit-options.js';

// Client-side adaptive throttling.
export { adaptiveThrottle, type AdaptiveThrottle, type ThrottleState } from './adaptive-throttle.js';
export { THROTTLE_DEFAULTS, type ThrottleOptions } from './throttle-options.js';

// Bulkheads and load shedding.
export { bulkhead, type Bulkhead, type BulkheadStats } from './bulkhead.js';
export type { BulkheadOptions } from './bulkhead-options.js';
export { loadShedder, type LoadShedder, type LoadShedderState } from './load-shedder.js';
export type { SheddingOptions } from './load-shedding-options.js';

// Auth.
export { authenticate, type AuthenticateOptions } from './auth-filter.js';
export { jwtVerifier, type JwtVerifierOptions, type JwksOptions } from './jwt-verifier.js';
export type { PublicKeyInput } from './jwt-keys.js';
export { apiKeyVerifier, type ApiKeyVerifierOptions, type ApiKeyEntry, type ApiKeyLookup } from './api-key-verifier.js';
export { bearerToken, type BearerTokenOptions, type TokenSource } from './bearer-token.js';
export { apiKey, type ApiKeyOptions } from './api-key-header.js';
export { principalOf, type Principal, type Claims } from './principal.js';
export type { Credential, Verifier } from './credential-verifier.js';
