import { describe, expect, it } from 'vitest';
import { checkHealth, Client, Method, RpcError, Server, Service, silentLogger, staticRegistry, type Filter } from '@svc/core';
import { tcp } from '../src/index.js';

@Service('Guarded')
class Guarded {
  @Method()
  async get(): Promise<string> {
    return 'secret';
  }
}

describe('the health service over TCP', () => {
  it('answers a check past a filter that refuses every call, and NOT_SERVING once close() begins', async () => {
    const deny: Filter = async () => {
      throw new RpcError('PERMISSION_DENIED', 'no');
    };
    const server = new Server({ transport: tcp(), logger: silentLogger, filters: [deny] }).register(new Guarded());
    const address = await server.listen('tcp://127.0.0.1:0');
    const client = new Client({ transport: tcp(), registry: staticRegistry({ Guarded: [address] }) });
    try {
      await expect(client.invoke('Guarded', 'get', {})).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      expect(await checkHealth(client, address)).toBe('SERVING');
      expect(await checkHealth(client, address, 'Guarded')).toBe('SERVING');
      server.health.set('Guarded', 'NOT_SERVING');
      expect(await checkHealth(client, address, 'Guarded')).toBe('NOT_SERVING');
    } finally {
      await server.close({ drainTimeout: 500 });
      await client.close();
    }
    expect(server.health.get()).toBe('NOT_SERVING');
  });
});
