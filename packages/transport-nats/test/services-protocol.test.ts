import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { Client, Method, RpcError, Server, Service, silentLogger, staticRegistry } from '@svc/core';
import { nats } from '../src/index.js';
import { NatsServerProcess } from '../src/testing/index.js';

@Service('Echo', { version: '1.2.3', description: 'echoes' })
class Echo {
  @Method()
  async who(args: { n: number }): Promise<{ n: number }> {
    if (args.n < 0) throw new RpcError('OUT_OF_RANGE', 'n must not be negative');
    return { n: args.n };
  }
  @Method()
  async idle(): Promise<void> {}
}

/** Nanoseconds as the schema types them: a non-negative integer. */
const nanos = (): unknown => expect.toSatisfy((v: unknown) => Number.isInteger(v) && (v as number) >= 0, 'an integer of nanoseconds');

/**
 * The NATS services protocol (ADR-32; schemas io.nats.micro.v1.{ping,info,stats}_response, as
 * nats.go sends them): whole replies compared, so a missing or mistyped field fails.
 */
describe('NATS services protocol replies against the micro v1 schemas', () => {
  let natsd: NatsServerProcess;
  let server: Server;
  let client: Client;
  let nc: NatsConnection;
  let address: string;
  let id: string;

  beforeAll(async () => {
    natsd = await NatsServerProcess.start();
    server = new Server({ transport: nats(), logger: silentLogger }).register(new Echo());
    address = await server.listen(natsd.url);
    id = new URL(address.replace('nats://', 'http://')).searchParams.get('instance')!;
    client = new Client({ transport: nats(), registry: staticRegistry({ Echo: [natsd.url] }), timeout: 5_000 });
    nc = await connect({ servers: natsd.url });
  });

  afterAll(async () => {
    await nc?.close();
    await client?.close();
    await server?.close();
    await natsd?.dispose();
  });

  async function ask(subject: string): Promise<unknown> {
    return JSON.parse((await nc.request(subject, '', { timeout: 2_000 })).string()) as unknown;
  }

  const metadata = (): Record<string, string> => ({ 'svc.address': address, 'svc.instance': id });

  it('STATS: every endpoint has every required field, last_error "" before any error', async () => {
    const stats = await ask(`$SRV.STATS.Echo.${id}`);
    expect(stats).toEqual({
      type: 'io.nats.micro.v1.stats_response',
      name: 'Echo',
      id,
      version: '1.2.3',
      metadata: metadata(),
      started: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      endpoints: [
        { name: 'who', subject: 'svc.rpc.Echo.who', queue_group: 'svc.rpc.Echo', num_requests: 0, num_errors: 0, last_error: '', processing_time: 0, average_processing_time: 0 },
        { name: 'idle', subject: 'svc.rpc.Echo.idle', queue_group: 'svc.rpc.Echo', num_requests: 0, num_errors: 0, last_error: '', processing_time: 0, average_processing_time: 0 },
      ],
    });
  });

  it('STATS after calls: counts, last_error, integer processing times; unknown methods are not endpoints', async () => {
    for (let n = 0; n < 3; n++) await client.invoke('Echo', 'who', { n });
    await expect(client.invoke('Echo', 'who', { n: -1 })).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    // Made-up method names (answered UNIMPLEMENTED) do not become endpoints, however many there are.
    for (let n = 0; n < 20; n++) await expect(client.invoke('Echo', `nope${n}`, {})).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
    const stats = await ask('$SRV.STATS.Echo');
    expect(stats).toEqual({
      type: 'io.nats.micro.v1.stats_response',
      name: 'Echo',
      id,
      version: '1.2.3',
      metadata: metadata(),
      started: expect.any(String),
      endpoints: [
        { name: 'who', subject: 'svc.rpc.Echo.who', queue_group: 'svc.rpc.Echo', num_requests: 4, num_errors: 1, last_error: 'OUT_OF_RANGE: n must not be negative', processing_time: nanos(), average_processing_time: nanos() },
        { name: 'idle', subject: 'svc.rpc.Echo.idle', queue_group: 'svc.rpc.Echo', num_requests: 0, num_errors: 0, last_error: '', processing_time: 0, average_processing_time: 0 },
      ],
    });
  });

  it('INFO: identity, description, endpoints with name, subject, queue_group and metadata', async () => {
    const info = await ask(`$SRV.INFO.Echo.${id}`);
    expect(info).toEqual({
      type: 'io.nats.micro.v1.info_response',
      name: 'Echo',
      id,
      version: '1.2.3',
      metadata: metadata(),
      description: 'echoes',
      endpoints: [
        { name: 'who', subject: 'svc.rpc.Echo.who', queue_group: 'svc.rpc.Echo', metadata: null },
        { name: 'idle', subject: 'svc.rpc.Echo.idle', queue_group: 'svc.rpc.Echo', metadata: null },
      ],
    });
  });

  it('PING: identity and type, on $SRV.PING, $SRV.PING.<name> and $SRV.PING.<name>.<id>', async () => {
    const expected = { type: 'io.nats.micro.v1.ping_response', name: 'Echo', id, version: '1.2.3', metadata: metadata() };
    for (const subject of ['$SRV.PING', '$SRV.PING.Echo', `$SRV.PING.Echo.${id}`]) expect(await ask(subject)).toEqual(expected);
  });
});
