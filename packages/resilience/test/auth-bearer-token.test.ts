import { afterEach, describe, expect, it, vi } from 'vitest';
import { Client, EventContext, Server, Service, Subscribe, inproc, silentLogger, staticRegistry } from '@svc/core';
import { authenticate } from '../src/auth-filter.js';
import { jwtVerifier } from '../src/jwt-verifier.js';
import { bearerToken } from '../src/bearer-token.js';
import { apiKey } from '../src/api-key-header.js';
import { rejection, vaultServer } from './helpers/auth-service.js';
import { SECRET, token } from './helpers/auth-tokens.js';

type Setup = Awaited<ReturnType<typeof vaultServer>>;
let setup: Setup | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await setup?.close();
  setup = undefined;
});

const verifying = () => [authenticate({ verifiers: jwtVerifier({ secret: SECRET }) })];

/** Waits (bounded) until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(done()).toBe(true);
}

describe('bearerToken on the client', () => {
  it('a function source is asked once for many concurrent calls (single flight), then its token is reused', async () => {
    setup = await vaultServer(verifying());
    let asked = 0;
    const source = async () => {
      asked++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return token({ sub: `v${asked}` });
    };
    const client = setup.client([bearerToken(source)]);
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.invoke('Vault', 'whoami', {})));
    expect(answers.every((a) => (a as { subject: string }).subject === 'v1')).toBe(true);
    await client.invoke('Vault', 'read', {});
    expect(asked).toBe(1);
  });

  it('refreshes a JWT before its exp in the background, keeps the old one when a refresh fails, and fails calls not_sent once it runs out', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.parse('2026-03-01T00:00:00Z');
    vi.setSystemTime(start);
    setup = await vaultServer(verifying());
    let asked = 0;
    let issued = 0;
    let failing = false;
    const source = async () => {
      asked++;
      if (failing) throw new Error('idp is down');
      const jwt = await token({ sub: `v${asked}`, expiresIn: 60 });
      issued++;
      return jwt;
    };
    const client = setup.client([bearerToken(source, { refreshBeforeMs: 10_000 })]);
    const who = async () => ((await client.invoke('Vault', 'whoami', {})) as { subject: string }).subject;

    expect(await who()).toBe('v1');
    vi.setSystemTime(start + 45_000);
    expect(await who()).toBe('v1');
    expect(asked).toBe(1);

    vi.setSystemTime(start + 52_000); // within 10 s of exp: the old token goes, a new one is fetched meanwhile
    expect(await who()).toBe('v1');
    await until(() => issued === 2);
    await new Promise((resolve) => setTimeout(resolve, 1)); // the filter takes the new token in the same tick's microtasks
    expect(await who()).toBe('v2'); // exp at start + 112 s

    failing = true;
    vi.setSystemTime(start + 105_000);
    expect(await who()).toBe('v2'); // the refresh fails in the background; v2 is still good
    await until(() => asked === 3);

    vi.setSystemTime(start + 113_000); // v2 has expired and there is no other
    const runs = setup.service.runs;
    const error = await rejection(client.invoke('Vault', 'read', {}));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.progress).toBe('not_sent');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('no token to send: the token source failed (idp is down); the call was not sent');
    expect(setup.service.runs).toBe(runs);

    failing = false;
    expect(await who()).toBe('v5');
  });

  it('a source that returns no token fails the call not_sent; a token that is not a JWT is reused for ttlMs', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-03-01T00:00:00Z'));
    setup = await vaultServer([authenticate({ verifiers: { schemes: ['bearer'], verify: (credential) => ({ subject: credential.value, roles: [], scheme: 'bearer', claims: {} }) } })]);
    const empty = await rejection(setup.client([bearerToken(() => '')]).invoke('Vault', 'read', {}));
    expect(empty).toMatchObject({ code: 'UNAUTHENTICATED', progress: 'not_sent' });
    expect(empty.message).toContain('it returned an empty string, not a token');

    let n = 0;
    const client = setup.client([bearerToken(() => `opaque-${++n}`, { ttlMs: 1_000 })]);
    expect(await client.invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'opaque-1' });
    vi.setSystemTime(Date.now() + 999);
    expect(await client.invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'opaque-1' });
    vi.setSystemTime(Date.now() + 1);
    expect(await client.invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'opaque-2' });
  });

  it("a call's own authorization metadata wins over the filter's", async () => {
    setup = await vaultServer(verifying());
    const client = setup.client([bearerToken(await token({ sub: 'service-account' }))]);
    expect(await client.invoke('Vault', 'whoami', {})).toMatchObject({ subject: 'service-account' });
    const onBehalf = await token({ sub: 'end-user' });
    expect(await client.invoke('Vault', 'whoami', {}, { metadata: { authorization: `Bearer ${onBehalf}` } })).toMatchObject({ subject: 'end-user' });
  });

  it('publishes carry the token and the API key too; the server passes events through its auth filter', async () => {
    const seen: (string | undefined)[] = [];
    @Service('Audit')
    class Audit {
      @Subscribe('vault.opened')
      async opened(_event: unknown, ctx: EventContext): Promise<void> {
        seen.push(ctx.metadata.authorization);
      }
    }
    const transport = inproc();
    const server = new Server({ transport, logger: silentLogger, filters: verifying() }).register(new Audit());
    await server.listen('inproc://audit-bus');
    const jwt = await token({ sub: 'publisher' });
    const clients = [bearerToken(jwt), apiKey('sk_live_0123456789abcdef'), bearerToken(async () => jwt)].map(
      (filter) => new Client({ transport, registry: staticRegistry({}), eventAddress: 'inproc://audit-bus', filters: [filter] }),
    );
    const bare = new Client({ transport, registry: staticRegistry({}), eventAddress: 'inproc://audit-bus' });
    try {
      for (const client of clients) await client.publish('vault.opened', { id: 1 });
      await bare.publish('vault.opened', { id: 2 });
      await until(() => seen.length === 4);
      expect(seen).toEqual([`Bearer ${jwt}`, 'ApiKey sk_live_0123456789abcdef', `Bearer ${jwt}`, undefined]);
    } finally {
      for (const client of [...clients, bare]) await client.close();
      await server.close();
    }
  });
});
