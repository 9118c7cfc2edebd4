import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type CryptoKey, type JWK, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { KeyObject } from 'node:crypto';
import type { Call } from '@svc/core';
import { BoundedMap } from './bounded-map.js';
import type { Credential, Verifier } from './credential-verifier.js';
import type { Claims, Principal } from './principal.js';
import { checkAuthOptions, checkNames } from './auth-options.js';
import { describe } from './describe-value.js';
import { algorithmsOf, ASYMMETRIC_ALGORITHMS, declaredAlgorithm, declaredKid, HMAC_ALGORITHMS, hmacKeys, publicKeyObject, secretBytes, type PublicKeyInput } from './jwt-keys.js';
import {
  algorithmNotAllowed,
  badSignature,
  invalidPolicy,
  invalidTokenClaim,
  malformedToken,
  signingKeysUnavailable,
  tokenExpired,
  tokenNotYetValid,
  unknownSigningKey,
  wrongAudience,
  wrongIssuer,
} from './resilience-errors.js';

export interface JwtVerifierOptions {
  /** An HMAC secret (HS256; at least 32 bytes). Exactly one of secret, publicKey, keys, jwksUrl. */
  secret?: string | Uint8Array;
  /** One public key (RS256, PS256, ES256, EdDSA): a CryptoKey, KeyObject, JWK or PEM string. */
  publicKey?: PublicKeyInput;
  /** Several public keys (a rotation): picked by the token's `kid` when the keys are JWKs with one, else each is tried. */
  keys?: readonly PublicKeyInput[];
  /** A JWKS endpoint (an OpenID provider's `jwks_uri`): fetched on first use and again for an unknown `kid`. */
  jwksUrl?: string | URL;
  /** How the JWKS is fetched (jose's createRemoteJWKSet). */
  jwks?: JwksOptions;
  /**
   * Algorithms a token may be signed with. Default: the key's own (RS256/384/512 for RSA, ES256
   * for P-256, EdDSA for Ed25519, HS256 for a secret; every asymmetric one for a JWKS). HMAC and
   * public keys are never mixed, so a token cannot pass a public key off as an HMAC secret.
   */
  algorithms?: readonly string[];
  /** The `aud` a token must name (one of these). Default: not checked. */
  audience?: string | readonly string[];
  /** The `iss` a token must have (one of these). Default: not checked. */
  issuer?: string | readonly string[];
  /** Seconds of clock skew allowed on exp and nbf. Default 5. */
  clockToleranceSec?: number;
  /** Where the roles are: a claim name or a dotted path ('realm_access.roles'), or a function of the claims. Default 'roles'. A string value is split at spaces (OAuth `scope`). */
  rolesClaim?: string | ((claims: Claims) => readonly string[]);
  /** The claim naming the caller. Default 'sub'. */
  subjectClaim?: string;
  /** Verified tokens kept, so a repeated token costs a map lookup rather than a signature check; 0: none. Default 10 000. */
  cacheSize?: number;
}

export interface JwksOptions {
  /** Give up on one fetch after this long. Default 5 000. */
  timeoutMs?: number;
  /** After a fetch, an unknown kid does not fetch again for this long (a flood of bad kids cannot hammer the issuer). Default 30 000. */
  cooldownMs?: number;
  /** Fetch again after this long even when every kid is known. Default 600 000. */
  cacheMaxAgeMs?: number;
  /** Headers sent with the fetch. */
  headers?: Record<string, string>;
}

const OPTION_KEYS = ['secret', 'publicKey', 'keys', 'jwksUrl', 'jwks', 'algorithms', 'audience', 'issuer', 'clockToleranceSec', 'rolesClaim', 'subjectClaim', 'cacheSize'] as const;
const JWKS_KEYS = ['timeoutMs', 'cooldownMs', 'cacheMaxAgeMs', 'headers'] as const;
const DEFAULT_CACHE_SIZE = 10_000;
const DEFAULT_CLOCK_TOLERANCE_SEC = 5;
const NO_ROLES: readonly string[] = Object.freeze([]);

/** A verified token in the cache: its principal, until the token's exp. */
interface VerifiedToken {
  readonly principal: Principal;
  readonly expiresAt: number;
}

/**
 * Verifies `Bearer` JWTs with jose: the signature (HMAC secret, public keys, or a JWKS), exp, nbf,
 * aud and iss, then reads the subject and roles. Verified tokens are cached until their exp.
 */
export function jwtVerifier(options: JwtVerifierOptions): Verifier {
  return new JwtVerifier(options);
}

class JwtVerifier implements Verifier {
  readonly schemes: readonly string[] = ['bearer'];
  private readonly key: KeyObject | JWTVerifyGetKey;
  private readonly verifyOptions: JWTVerifyOptions;
  private readonly allowed: readonly string[];
  private readonly jwksUrl: string | undefined;
  private readonly rolesOf: (claims: Claims) => unknown;
  private readonly rolesClaimName: string;
  private readonly subjectClaim: string;
  private readonly cache: BoundedMap<string, VerifiedToken> | undefined;

  constructor(options: JwtVerifierOptions) {
    const o = checkAuthOptions('jwtVerifier', options, OPTION_KEYS);
    const sources = (['secret', 'publicKey', 'keys', 'jwksUrl'] as const).filter((name) => o[name] !== undefined);
    if (sources.length !== 1) throw invalidPolicy('jwtVerifier', `give exactly one of secret, publicKey, keys, jwksUrl (got ${sources.length === 0 ? 'none' : sources.join(', ')})`);
    if (o.jwks !== undefined && o.jwksUrl === undefined) throw invalidPolicy('jwtVerifier.jwks', 'says how a JWKS is fetched: give jwksUrl too');
    let natural: readonly string[];
    if (options.secret !== undefined) {
      this.key = hmacKeys(secretBytes('jwtVerifier.secret', options.secret)) as JWTVerifyGetKey;
      natural = ['HS256'];
    } else if (options.publicKey !== undefined) {
      const key = publicKeyObject('jwtVerifier.publicKey', options.publicKey);
      this.key = key;
      natural = algorithmsOf('jwtVerifier.publicKey', key, declaredAlgorithm(options.publicKey));
    } else if (options.keys !== undefined) {
      if (!Array.isArray(options.keys) || options.keys.length === 0) throw invalidPolicy('jwtVerifier.keys', `expected a non-empty list of public keys, got ${describe(options.keys)}`);
      const jwks: JWK[] = [];
      const algorithms = new Set<string>();
      options.keys.forEach((input, i) => {
        const path = `jwtVerifier.keys[${i}]`;
        const key = publicKeyObject(path, input);
        const own = algorithmsOf(path, key, declaredAlgorithm(input));
        for (const alg of own) algorithms.add(alg);
        const kid = declaredKid(input);
        // One JWK per algorithm, so jose's key set matches a key to a token's alg (and its kid).
        for (const alg of own) jwks.push({ ...(key.export({ format: 'jwk' }) as JWK), alg, ...(kid === undefined ? {} : { kid }) });
      });
      this.key = createLocalJWKSet({ keys: jwks });
      natural = [...algorithms];
    } else {
      const url = parseUrl(options.jwksUrl);
      const fetching = checkAuthOptions('jwtVerifier.jwks', options.jwks ?? {}, JWKS_KEYS);
      for (const name of ['timeoutMs', 'cooldownMs', 'cacheMaxAgeMs'] as const) {
        const value = fetching[name];
        if (value !== undefined && !(typeof value === 'number' && value >= 0 && (Number.isFinite(value) || name === 'cacheMaxAgeMs'))) throw invalidPolicy(`jwtVerifier.jwks.${name}`, `expected a number of milliseconds >= 0, got ${describe(value)}`);
      }
      this.jwksUrl = `${url.origin}${url.pathname}`; // for messages: no query (it may hold a key)
      const jwks = fetching as JwksOptions;
      this.key = createRemoteJWKSet(url, {
        timeoutDuration: jwks.timeoutMs ?? 5_000,
        cooldownDuration: jwks.cooldownMs ?? 30_000,
        cacheMaxAge: jwks.cacheMaxAgeMs ?? 600_000,
        ...(jwks.headers === undefined ? {} : { headers: jwks.headers }),
      });
      natural = ASYMMETRIC_ALGORITHMS;
    }
    this.allowed = options.algorithms === undefined ? natural : checkAlgorithms(options.algorithms, options.secret !== undefined);
    const tolerance = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
    if (!(typeof tolerance === 'number' && Number.isFinite(tolerance) && tolerance >= 0)) throw invalidPolicy('jwtVerifier.clockToleranceSec', `expected seconds >= 0, got ${describe(tolerance)}`);
    this.verifyOptions = {
      algorithms: [...this.allowed],
      clockTolerance: tolerance,
      ...(options.audience === undefined ? {} : { audience: [...checkNames('jwtVerifier.audience', options.audience)] }),
      ...(options.issuer === undefined ? {} : { issuer: [...checkNames('jwtVerifier.issuer', options.issuer)] }),
    };
    const roles = options.rolesClaim ?? 'roles';
    if (typeof roles === 'function') {
      this.rolesOf = roles;
      this.rolesClaimName = 'roles';
    } else {
      const path = checkNames('jwtVerifier.rolesClaim', roles)[0]!.split('.');
      this.rolesOf = path.length === 1 ? (claims) => claims[path[0]!] : (claims) => path.reduce<unknown>((at, name) => (at !== null && typeof at === 'object' ? (at as Claims)[name] : undefined), claims);
      this.rolesClaimName = roles;
    }
    this.subjectClaim = checkNames('jwtVerifier.subjectClaim', options.subjectClaim ?? 'sub')[0]!;
    const size = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!(Number.isInteger(size) && size >= 0)) throw invalidPolicy('jwtVerifier.cacheSize', `expected a whole number >= 0, got ${describe(size)}`);
    this.cache = size > 0 ? new BoundedMap(size) : undefined;
  }

  verify(credential: Credential, _call: Call): Principal | Promise<Principal> {
    const token = credential.value;
    const cached = this.cache?.get(token);
    if (cached !== undefined) {
      if (Date.now() < cached.expiresAt) return cached.principal;
      this.cache!.delete(token);
    }
    return this.verifySignature(token);
  }

  private async verifySignature(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      // The two overloads of jwtVerify (a key, or a key set function) take the same arguments.
      ({ payload } = await jwtVerify(token, this.key as KeyObject, this.verifyOptions).catch((error: unknown) => this.eachCandidate(token, error)));
    } catch (error) {
      throw this.refusal(error, token);
    }
    const principal = this.principalOf(payload);
    if (this.cache !== undefined && principal.expiresAt !== undefined) this.cache.set(token, { principal, expiresAt: principal.expiresAt });
    return principal;
  }

  /**
   * A key set with several keys that fit a token without a kid (jose's JWKSMultipleMatchingKeys,
   * an async iterator of them): the token is good when one of them verifies it.
   */
  private async eachCandidate(token: string, error: unknown): Promise<{ payload: JWTPayload }> {
    if ((error as { code?: unknown }).code !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw error;
    let last: unknown = error;
    for await (const key of error as AsyncIterable<CryptoKey>) {
      try {
        return await jwtVerify(token, key, this.verifyOptions);
      } catch (failure) {
        if ((failure as { code?: unknown }).code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw failure;
        last = failure;
      }
    }
    throw last;
  }

  private principalOf(claims: JWTPayload): Principal {
    const subject = claims[this.subjectClaim];
    if (typeof subject !== 'string' || subject === '') throw invalidTokenClaim(this.subjectClaim, 'is missing or not a string: it names the caller');
    const found = this.rolesOf(claims);
    let roles: readonly string[];
    if (found === undefined || found === null) roles = NO_ROLES;
    else if (typeof found === 'string') roles = Object.freeze(found.split(' ').filter((role) => role !== ''));
    else if (Array.isArray(found) && found.every((role) => typeof role === 'string')) roles = Object.freeze([...(found as string[])]);
    else throw invalidTokenClaim(this.rolesClaimName, 'is not a list of role names (nor a space-separated string)');
    return Object.freeze({ subject, roles, scheme: 'bearer', claims: Object.freeze(claims), expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined });
  }

  /** jose's error as the caller's: what is wrong with the token, nothing of the key. */
  private refusal(error: unknown, token: string): Error {
    const code = (error as { code?: unknown }).code;
    switch (code) {
      case 'ERR_JWT_EXPIRED':
        return tokenExpired();
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
        const { claim, reason } = error as { claim: string; reason: string };
        if (claim === 'nbf') return tokenNotYetValid();
        if (claim === 'aud') return wrongAudience();
        if (claim === 'iss') return wrongIssuer();
        return invalidTokenClaim(claim, reason === 'missing' ? 'is missing' : 'is not valid');
      }
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return badSignature();
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED':
        return algorithmNotAllowed(headerOf(token)?.alg ?? 'none', this.allowed);
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
        return malformedToken();
      case 'ERR_JWKS_NO_MATCHING_KEY':
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
        return unknownSigningKey(headerOf(token)?.kid);
    }
    // Left: the key set could not be had (timeout, HTTP error, not a JWKS, network), or a key that does not import.
    if (this.jwksUrl !== undefined) return signingKeysUnavailable(this.jwksUrl, (error as Error).message ?? String(error));
    return malformedToken();
  }
}

function headerOf(token: string): { alg?: string; kid?: string } | undefined {
  try {
    return decodeProtectedHeader(token);
  } catch {
    return undefined;
  }
}

function parseUrl(value: unknown): URL {
  try {
    const url = new URL(value as string | URL);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${url.protocol} is not http: or https:`);
    return url;
  } catch (error) {
    throw invalidPolicy('jwtVerifier.jwksUrl', `not an http(s) URL: ${(error as Error).message}`);
  }
}

function checkAlgorithms(value: unknown, hmac: boolean): readonly string[] {
  const list = checkNames('jwtVerifier.algorithms', value);
  for (const alg of list) {
    if (alg === 'none') throw invalidPolicy('jwtVerifier.algorithms', "'none' would accept unsigned tokens");
    const isHmac = HMAC_ALGORITHMS.includes(alg);
    if (hmac && !isHmac) throw invalidPolicy('jwtVerifier.algorithms', `'${alg}' needs a public key; a secret verifies ${HMAC_ALGORITHMS.join(', ')}`);
    if (!hmac && !ASYMMETRIC_ALGORITHMS.includes(alg)) throw invalidPolicy('jwtVerifier.algorithms', `'${alg}' is not a signature algorithm for public keys (${ASYMMETRIC_ALGORITHMS.join(', ')})`);
  }
  return list;
}
