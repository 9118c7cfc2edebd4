import type { Call, CallContext, Filter, Metadata, Next } from '@svc/core';
import { MethodTable, type MethodSettings } from './method-table.js';
import type { Credential, Verifier } from './credential-verifier.js';
import { recordPrincipal, type Principal } from './principal.js';
import { checkAuthOptions, checkMetadataKey } from './auth-options.js';
import { describe } from './describe-value.js';
import { invalidPolicy, malformedCredentials, missingCredentials, missingRole, policyRefused, unsupportedScheme } from './resilience-errors.js';

export interface AuthenticateOptions {
  /** Who checks credentials: one verifier or several (by scheme: jwtVerifier takes Bearer, apiKeyVerifier ApiKey). */
  verifiers: Verifier | readonly Verifier[];
  /**
   * The roles a method needs (the caller must hold one of them; an empty list: any authenticated
   * caller). Default: the method's `@Method({ roles })`.
   */
  roles?: MethodSettings<readonly string[]>;
  /** Decides last, for an authenticated caller that holds the roles: false refuses with PERMISSION_DENIED. */
  policy?: (principal: Principal, call: CallContext) => boolean | Promise<boolean>;
  /** Methods open to callers without credentials (credentials that are sent are still checked). Default: none. */
  anonymous?: MethodSettings<boolean>;
  /** The metadata key holding `<scheme> <credentials>` (`Bearer <jwt>`, `ApiKey <key>`). Default 'authorization'. */
  metadataKey?: string;
  /** A metadata key holding a bare API key, read when `metadataKey` is absent; false: none. Default 'x-api-key'. */
  apiKeyMetadataKey?: string | false;
}

const OPTION_KEYS = ['verifiers', 'roles', 'policy', 'anonymous', 'metadataKey', 'apiKeyMetadataKey'] as const;
/** How a scheme is written on the wire, for messages (schemes are compared in lower case, RFC 9110). */
const SCHEME_NAMES: Readonly<Record<string, string>> = { bearer: 'Bearer', apikey: 'ApiKey', basic: 'Basic' };

const methodRoles = (_service: string, _method: string, options: { roles?: readonly string[] } | undefined): readonly string[] | undefined => options?.roles;

/**
 * A server filter that lets a call reach its handler only with credentials a verifier accepts
 * (UNAUTHENTICATED otherwise) and, when the method names roles, only for a caller holding one of
 * them, and only when `policy` agrees (PERMISSION_DENIED otherwise). Both are thrown before
 * `next()`, so the caller sees progress 'refused' and no handler runs. Events pass through.
 * The handler reads the caller with `principalOf(ctx)`.
 */
export function authenticate(options: AuthenticateOptions): Filter {
  const auth = new Authenticator(options);
  return (call, next) => auth.filter(call, next);
}

class Authenticator {
  private readonly verifiers = new Map<string, readonly Verifier[]>();
  private readonly roles: MethodTable<readonly string[]>;
  private readonly anonymous: MethodTable<boolean> | undefined;
  private readonly policy: AuthenticateOptions['policy'];
  private readonly metadataKey: string;
  private readonly apiKeyMetadataKey: string | undefined;
  /** What a caller without credentials is told to send. */
  private readonly expected: string;
  private readonly accepted: readonly string[];

  constructor(options: AuthenticateOptions) {
    const o = checkAuthOptions('authenticate', options, OPTION_KEYS);
    const list = Array.isArray(o.verifiers) ? (o.verifiers as readonly unknown[]) : o.verifiers === undefined ? [] : [o.verifiers];
    if (list.length === 0) throw invalidPolicy('authenticate.verifiers', 'give at least one verifier (jwtVerifier, apiKeyVerifier or your own)');
    list.forEach((verifier, i) => {
      const v = verifier as Partial<Verifier> | null;
      if (v === null || typeof v !== 'object' || typeof v.verify !== 'function' || !Array.isArray(v.schemes) || v.schemes.length === 0) {
        throw invalidPolicy(`authenticate.verifiers[${i}]`, 'expected a Verifier: { schemes: string[], verify(credential, call) }');
      }
      for (const scheme of v.schemes) {
        if (typeof scheme !== 'string' || !/^[a-z0-9][a-z0-9._~+/-]*$/.test(scheme)) throw invalidPolicy(`authenticate.verifiers[${i}].schemes`, `a scheme is a lower-case token such as 'bearer', got ${describe(scheme)}`);
        this.verifiers.set(scheme, [...(this.verifiers.get(scheme) ?? []), v as Verifier]);
      }
    });
    if (o.roles !== undefined && typeof o.roles !== 'function' && !(Array.isArray(o.roles) && o.roles.every((role) => typeof role === 'string' && role !== ''))) {
      throw invalidPolicy('authenticate.roles', `expected a list of role names or a function of (service, method, options), got ${describe(o.roles)}`);
    }
    this.roles = new MethodTable<readonly string[]>(options.roles ?? methodRoles);
    if (o.anonymous !== undefined && typeof o.anonymous !== 'function' && typeof o.anonymous !== 'boolean') throw invalidPolicy('authenticate.anonymous', `expected a boolean or a function of (service, method, options), got ${describe(o.anonymous)}`);
    this.anonymous = options.anonymous === undefined || options.anonymous === false ? undefined : new MethodTable(options.anonymous);
    if (o.policy !== undefined && typeof o.policy !== 'function') throw invalidPolicy('authenticate.policy', `expected a function (principal, call) => boolean, got ${describe(o.policy)}`);
    this.policy = options.policy;
    this.metadataKey = checkMetadataKey('authenticate.metadataKey', options.metadataKey ?? 'authorization');
    const apiKeyKey = options.apiKeyMetadataKey ?? 'x-api-key';
    this.apiKeyMetadataKey = apiKeyKey === false ? undefined : checkMetadataKey('authenticate.apiKeyMetadataKey', apiKeyKey);
    this.accepted = [...this.verifiers.keys()].map((scheme) => SCHEME_NAMES[scheme] ?? scheme);
    this.expected = [...this.verifiers.keys()]
      .map((scheme) => {
        const header = `'${this.metadataKey}: ${SCHEME_NAMES[scheme] ?? scheme} <${scheme === 'bearer' ? 'token' : scheme === 'apikey' ? 'key' : 'credentials'}>'`;
        return scheme === 'apikey' && this.apiKeyMetadataKey !== undefined ? `${header} or '${this.apiKeyMetadataKey}: <key>'` : header;
      })
      .join(' or ');
  }

  // Not async: a cached token and no policy add no promise and no closure to the call.
  filter(call: Call, next: Next): Promise<unknown> {
    if (call.kind !== 'call') return next();
    let principal: Principal | Promise<Principal>;
    try {
      const credential = this.credentialOf(call.metadata);
      if (credential === undefined) {
        if (this.anonymous?.of(call) === true) return next();
        throw missingCredentials(call.service, call.method, this.expected);
      }
      principal = this.verify(credential, call);
    } catch (error) {
      return Promise.reject(error);
    }
    if (principal instanceof Promise) return principal.then((found) => this.admit(found, call, next));
    return this.admit(principal, call, next);
  }

  /** The credential in the metadata: `authorization: <scheme> <value>`, else a bare API key; undefined when there is none. */
  private credentialOf(metadata: Metadata): Credential | undefined {
    const header = metadata[this.metadataKey];
    if (header !== undefined) {
      const space = header.indexOf(' ');
      if (space <= 0) throw malformedCredentials(this.metadataKey);
      const written = header.slice(0, space);
      // The usual spellings need no lower-casing.
      const scheme = written === 'Bearer' ? 'bearer' : written === 'ApiKey' ? 'apikey' : written.toLowerCase();
      let value = header.slice(space + 1);
      if (value.charCodeAt(0) === 32 || value.charCodeAt(value.length - 1) === 32) value = value.trim();
      if (value === '') throw malformedCredentials(this.metadataKey);
      return { scheme, value };
    }
    if (this.apiKeyMetadataKey !== undefined) {
      const key = metadata[this.apiKeyMetadataKey];
      if (key !== undefined && key !== '') return { scheme: 'apikey', value: key };
    }
    return undefined;
  }

  private verify(credential: Credential, call: Call): Principal | Promise<Principal> {
    const verifiers = this.verifiers.get(credential.scheme);
    if (verifiers === undefined) throw unsupportedScheme(credential.scheme, this.accepted);
    if (verifiers.length === 1) return verifiers[0]!.verify(credential, call);
    return firstAccepting(verifiers, credential, call);
  }

  /** Roles, then the policy; the principal is recorded for the handler only once both agree. */
  private admit(principal: Principal, call: Call, next: Next): Promise<unknown> {
    const needed = this.roles.of(call);
    if (needed !== undefined && needed.length > 0 && !holdsOne(principal.roles, needed)) return Promise.reject(missingRole(call.service, call.method, principal.subject, needed));
    if (this.policy === undefined) {
      recordPrincipal(call, principal);
      return next();
    }
    let allowed: boolean | Promise<boolean>;
    try {
      allowed = this.policy(principal, call as CallContext);
    } catch (error) {
      return Promise.reject(error);
    }
    if (allowed instanceof Promise) return allowed.then((yes) => this.decided(yes, principal, call, next));
    return this.decided(allowed, principal, call, next);
  }

  private decided(allowed: boolean, principal: Principal, call: Call, next: Next): Promise<unknown> {
    // Only true admits: a policy that returns undefined by mistake refuses.
    if (allowed !== true) return Promise.reject(policyRefused(call.service, call.method, principal.subject));
    recordPrincipal(call, principal);
    return next();
  }
}

function holdsOne(held: readonly string[] | undefined, needed: readonly string[]): boolean {
  if (!Array.isArray(held)) return false; // a custom verifier's principal without roles holds none
  for (const role of needed) if (held.includes(role)) return true;
  return false;
}

/** Several verifiers of one scheme: the first to accept wins; when all refuse, the first one's refusal. */
async function firstAccepting(verifiers: readonly Verifier[], credential: Credential, call: Call): Promise<Principal> {
  let first: unknown;
  for (const verifier of verifiers) {
    try {
      return await verifier.verify(credential, call);
    } catch (error) {
      first ??= error;
    }
  }
  throw first;
}
