import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nkeys } from 'nats';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry } from '@svc/core';
import { nats, type NatsTransportOptions } from '../src/index.js';
import { NatsServerProcess } from '../src/testing/index.js';
import { decentralisedAuth } from './jwt.js';

@Service('Secure')
class Secure {
  @Method()
  async hello(args: { who: string }): Promise<string> {
    return `hello ${args.who}`;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'svc-nats-sec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A call round trip with these options on both sides; and a listen without them must fail. */
async function roundTrip(natsd: NatsServerProcess, options: NatsTransportOptions, without: NatsTransportOptions = {}): Promise<void> {
  const server = new Server({ transport: nats(options), logger: silentLogger }).register(new Secure());
  const client = new Client({ transport: nats(options), registry: staticRegistry({ Secure: [natsd.url] }), timeout: 3_000 });
  try {
    await server.listen(natsd.url);
    expect(await client.invoke('Secure', 'hello', { who: 'nats' })).toBe('hello nats');
    const refused = new Server({ transport: nats({ connectTimeout: 2_000, ...without }), logger: silentLogger }).register(new Secure());
    const error = (await refused.listen(natsd.url).catch((e: unknown) => e)) as RpcError;
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain('cannot listen');
    await refused.close();
  } finally {
    await client.close();
    await server.close();
  }
}

describe('security options pass through to NATS', () => {
  it('token', async () => {
    const natsd = await NatsServerProcess.start(['--auth', 's3cret-token']);
    try {
      await roundTrip(natsd, { token: 's3cret-token' }, { token: 'wrong' });
    } finally {
      await natsd.dispose();
    }
  });

  it('user and password', async () => {
    const natsd = await NatsServerProcess.start(['--user', 'svc', '--pass', 'pa55']);
    try {
      await roundTrip(natsd, { user: 'svc', pass: 'pa55' }, { user: 'svc', pass: 'nope' });
    } finally {
      await natsd.dispose();
    }
  });

  it('NKey', async () => {
    const user = nkeys.createUser();
    const other = nkeys.createUser();
    const conf = join(dir, 'nkey.conf');
    writeFileSync(conf, `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
    const natsd = await NatsServerProcess.start(['-c', conf]);
    try {
      await roundTrip(natsd, { nkeySeed: new TextDecoder().decode(user.getSeed()) }, { nkeySeed: new TextDecoder().decode(other.getSeed()) });
    } finally {
      await natsd.dispose();
    }
  });

  it('credentials file (decentralised JWT auth)', async () => {
    const auth = decentralisedAuth();
    const conf = join(dir, 'operator.conf');
    const creds = join(dir, 'user.creds');
    const stranger = join(dir, 'stranger.creds');
    writeFileSync(conf, auth.serverConfig);
    writeFileSync(creds, auth.creds);
    writeFileSync(stranger, auth.strangerCreds);
    const natsd = await NatsServerProcess.start(['-c', conf]);
    try {
      await roundTrip(natsd, { credentialsFile: creds }, { credentialsFile: stranger });
    } finally {
      await natsd.dispose();
    }
  });

  describe('TLS', () => {
    let ca: string;
    let cert: string;
    let key: string;
    beforeAll(() => {
      ca = join(dir, 'ca.pem');
      const caKey = join(dir, 'ca-key.pem');
      key = join(dir, 'server-key.pem');
      cert = join(dir, 'server.pem');
      const csr = join(dir, 'server.csr');
      const ext = join(dir, 'ext.cnf');
      writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
      const run = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
      run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '1', '-subj', '/CN=svc-test-ca');
      run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1');
      run('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext);
    });

    it('verifies the server with the given CA', async () => {
      const natsd = await NatsServerProcess.start(['--tls', '--tlscert', cert, '--tlskey', key]);
      try {
        // Without the CA the self-signed server is not trusted.
        await roundTrip(natsd, { tls: { caFile: ca } }, { tls: {} });
      } finally {
        await natsd.dispose();
      }
    });
  });
});
