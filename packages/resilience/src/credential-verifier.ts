import type { Call } from '@svc/core';
import type { Principal } from './principal.js';

/**
 * What the server found in a call's metadata: the scheme (lower case, e.g. 'bearer' from
 * `authorization: Bearer <token>`, 'apikey' from `ApiKey <key>` or `x-api-key`) and the value.
 */
export interface Credential {
  readonly scheme: string;
  readonly value: string;
}

/**
 * The extension point of `authenticate`: turns credentials of its schemes into a Principal.
 *
 * - `schemes`: the lower-case schemes it takes; `authenticate` hands it only those.
 * - `verify`: resolves to the Principal, or throws an RpcError saying what is wrong
 *   (UNAUTHENTICATED for bad credentials; UNAVAILABLE when it cannot check now, e.g. a key server
 *   is down). Return synchronously when the answer is at hand (a cache hit): the filter then adds
 *   no promise to the call. It must not keep `call`: it is the call's context, gone with it.
 *
 * Several verifiers may take one scheme (tokens of two issuers): they are asked in order and
 * the first Principal wins; when all refuse, the caller gets the first one's error.
 */
export interface Verifier {
  readonly schemes: readonly string[];
  verify(credential: Credential, call: Call): Principal | Promise<Principal>;
}
