import { afterEach, describe, expect, it } from 'vitest';
import { authenticate } from '../src/auth-filter.js';
import { apiKeyVerifier } from '../src/api-key-verifier.js';
import { jwtVerifier } from '../src/jwt-verifier.js';
import { apiKey } from '../src/api-key-header.js';
import { bearerToken } from '../src/bearer-token.js';
import { rejection, vaultServer } from './helpers/auth-service.js';
import { SECRET, token } from './helpers/auth-tokens.js';

type Setup = Awaited<ReturnType<typeof vaultServer>>;
let setup: Setup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

const LIVE = 'sk_live_0123456789abcdef';
const keys = { [LIVE]: { subject: 'batch-job', roles: ['ops'], claims: { team: 'data' } }, sk_live_fedcba9876543210: { subject: 'reporter' } };

describe('API keys over TCP', () => {
  it('accepts a listed key as ApiKey <key> or x-api-key, with its subject and roles', async () => {
    setup = await vaultServer([authenticate({ verifiers: apiKeyVerifier({ keys }) })]);
    expect(await setup.client([apiKey(LIVE)]).invoke('Vault', 'whoami', {})).toEqual({ subject: 'batch-job', roles: ['ops'], scheme: 'apikey' });
    expect(await setup.client([apiKey(LIVE, { metadataKey: 'x-api-key' })]).invoke('Vault', 'wipe', {})).toEqual({ wiped: true });
    const reporter = setup.client([apiKey('sk_live_fedcba9876543210')]);
    expect((await rejection(reporter.invoke('Vault', 'wipe', {}))).code).toBe('PERMISSION_DENIED');
    expect(setup.service.runs).toBe(2);
  });

  it('refuses an unknown key (also one differing in the last character) without echoing it', async () => {
    setup = await vaultServer([authenticate({ verifiers: apiKeyVerifier({ keys }) })]);
    for (const wrong of ['sk_live_0123456789abcdeX', 'nope']) {
      const error = await rejection(setup.client([apiKey(wrong)]).invoke('Vault', 'read', {}));
      expect(error.code).toBe('UNAUTHENTICATED');
      expect(error.message).toBe('the API key is not known here; check that the key is current');
    }
    const missing = await rejection(setup.client().invoke('Vault', 'read', {}));
    expect(missing.message).toContain("'authorization: ApiKey <key>' or 'x-api-key: <key>'");
    expect(setup.service.runs).toBe(0);
  });

  it('takes a lookup function (sync or async) instead of a list', async () => {
    const asked: string[] = [];
    setup = await vaultServer([
      authenticate({
        verifiers: apiKeyVerifier({
          keys: async (key, call) => {
            asked.push(`${call.method}`);
            return key === 'from-the-database' ? { subject: 'db-user', roles: [], scheme: 'apikey', claims: {} } : undefined;
          },
        }),
      }),
    ]);
    expect(await setup.client([apiKey('from-the-database')]).invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'db-user' });
    expect((await rejection(setup.client([apiKey('other')]).invoke('Vault', 'read', {}))).code).toBe('UNAUTHENTICATED');
    expect(asked).toEqual(['whoami', 'read']);
  });

  it('serves JWTs and API keys side by side, each by its scheme', async () => {
    setup = await vaultServer([authenticate({ verifiers: [jwtVerifier({ secret: SECRET }), apiKeyVerifier({ keys })] })]);
    expect(await setup.client([bearerToken(await token({ sub: 'jwt-user' }))]).invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'jwt-user', scheme: 'bearer' });
    expect(await setup.client([apiKey(LIVE)]).invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'batch-job', scheme: 'apikey' });
    // An API key sent as a bearer token is a malformed JWT, not a key.
    expect((await rejection(setup.client([bearerToken(LIVE)]).invoke('Vault', 'read', {}))).message).toContain('not a well-formed JWT');
  });
});
