import type { Filter } from '@svc/core';
import { checkAuthOptions, checkMetadataKey } from './auth-options.js';
import { describe } from './describe-value.js';
import { fixedMetadata } from './bearer-token.js';
import { invalidPolicy } from './resilience-errors.js';

export interface ApiKeyOptions {
  /** Default 'authorization', sent as `ApiKey <key>`; any other key (e.g. 'x-api-key') carries the bare key. */
  metadataKey?: string;
}

/** A client call filter that sends an API key with every call and publish (a call's own metadata wins). */
export function apiKey(key: string, options: ApiKeyOptions = {}): Filter {
  const o = checkAuthOptions('apiKey', options, ['metadataKey']);
  if (typeof key !== 'string' || key === '') throw invalidPolicy('apiKey', `expected the key as a non-empty string, got ${describe(key)}`);
  const metadataKey = checkMetadataKey('apiKey.metadataKey', o.metadataKey ?? 'authorization');
  return fixedMetadata(metadataKey, metadataKey === 'authorization' ? `ApiKey ${key}` : key);
}
