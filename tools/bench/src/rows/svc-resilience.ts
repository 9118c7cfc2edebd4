/**
 * @svc over TCP with protobuf (as svc-tcp-proto) and @svc/resilience on both sides (issue 16):
 * what a breaker, a rate limit and auth cost when nothing trips them (target < 10 %).
 * Client: a circuit breaker per node (an attempt filter, so each call takes the fail mode's
 * runner), a rate limit far above the load, and a bearer token. Server: a rate limit far above
 * the load, JWT auth (HS256, the verified token cached) and the bulkhead that `@Method` options
 * would use (none declared here: a table read). The `breaker`, `limit` and `auth` rows carry one
 * part each on the side(s) it lives, to tell their shares apart; `noop` carries filters that do
 * nothing but call next() at the same places (a call filter and an attempt filter on the client,
 * a server filter): what the parts cannot cost less than; `noop-call`, `noop-attempt` and
 * `noop-server` carry one of the three alone, to tell their shares apart.
 */
import { Client, protobufCodec, Server, staticRegistry, type Filter } from '@svc/core';
import { clientResilience, jwtVerifier, serverResilience, type ClientPolicy, type ServerPolicy } from '@svc/resilience';
import { tcp } from '@svc/transport-tcp';
import { SignJWT } from 'jose';
import { schemas } from '../generated/index.js';
import type { RowImpl } from '../row.js';
import { Echo } from './svc-echo.js';

type Part = 'all' | 'breaker' | 'limit' | 'auth' | 'noop';
/** Where do-nothing filters go: everywhere resilience puts its own, or one place alone. */
type NoopPlace = 'all' | 'call' | 'attempt' | 'server';

/** Shared by the two processes of a row; a bench secret, nothing else signs with it. */
const SECRET = new TextEncoder().encode('svc-bench-resilience-secret-of-32-bytes!');
/** Far above what two cores can do: the limiter counts every call but never refuses one. */
const LIMIT = { reservoir: 10_000_000, refreshIntervalMs: 1_000 };

function serverPolicy(part: Part): ServerPolicy {
  const auth = { verifiers: jwtVerifier({ secret: SECRET, audience: 'bench' }) };
  if (part === 'breaker') return {};
  if (part === 'limit') return { rateLimit: LIMIT };
  if (part === 'auth') return { auth };
  return { rateLimit: LIMIT, auth };
}

async function clientPolicy(part: Part): Promise<ClientPolicy> {
  const token = await new SignJWT({ roles: ['bench'] }).setProtectedHeader({ alg: 'HS256' }).setAudience('bench').setSubject('bench').setExpirationTime('2h').sign(SECRET);
  const breaker = { errorThresholdPercentage: 50, volumeThreshold: 20 };
  if (part === 'breaker') return { breaker };
  if (part === 'limit') return { rateLimit: LIMIT };
  if (part === 'auth') return { token };
  return { breaker, rateLimit: LIMIT, token };
}

const passOn: Filter = (_call, next) => next();

function resilienceRow(part: Part): RowImpl {
  if (part === 'noop') return noopFilterRow('all');
  return {
    async server(env) {
      const resilience = serverResilience(serverPolicy(part));
      const server = new Server(resilience.apply({ transport: tcp(), codecs: [protobufCodec({ schemas })] })).register(new Echo());
      const address = await server.listen(`tcp://${env.host}:0`);
      return { address, close: async () => (await server.close({ drainTimeout: 1000 }), await resilience.close()) };
    },

    async client(env) {
      const resilience = clientResilience(await clientPolicy(part));
      const client = new Client(resilience.apply({ transport: tcp(), codecs: [protobufCodec({ schemas })], registry: staticRegistry({ Echo: [env.address] }) }));
      return {
        call: (message) => client.invoke('Echo', 'echo', message),
        close: async () => (await client.close(), await resilience.close()),
      };
    },
  };
}

function noopFilterRow(place: NoopPlace): RowImpl {
  const on = (where: NoopPlace): Filter[] => (place === 'all' || place === where ? [passOn] : []);
  return {
    async server(env) {
      const server = new Server({ transport: tcp(), codecs: [protobufCodec({ schemas })], filters: on('server') }).register(new Echo());
      const address = await server.listen(`tcp://${env.host}:0`);
      return { address, close: () => server.close({ drainTimeout: 1000 }) };
    },
    async client(env) {
      const client = new Client({ transport: tcp(), codecs: [protobufCodec({ schemas })], registry: staticRegistry({ Echo: [env.address] }), filters: on('call'), attemptFilters: on('attempt') });
      return { call: (message) => client.invoke('Echo', 'echo', message), close: () => client.close() };
    },
  };
}

export const noopRow = resilienceRow('noop');
export const noopCallRow = noopFilterRow('call');
export const noopAttemptRow = noopFilterRow('attempt');
export const noopServerRow = noopFilterRow('server');
export const allRow = resilienceRow('all');
export const breakerRow = resilienceRow('breaker');
export const limitRow = resilienceRow('limit');
export const authRow = resilienceRow('auth');
