import { describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, staticRegistry } from '@svc/core';
import { tcp } from '../src/index.js';
import type { TcpListener } from '../src/tcp-listener.js';
import { Echo, until } from './helpers.js';

describe('listener stats', () => {
  it('count the bytes read and written by every connection, also after it closed', async () => {
    const transport = tcp();
    const server = new Server({ transport, logger: silentLogger }).register(new Echo());
    const listener = (await transport.listen('tcp://127.0.0.1:0', server)) as TcpListener;
    try {
      expect(listener.stats).toMatchObject({ connections: 0, bytesRead: 0, bytesWritten: 0 });
      const client = new Client({ transport: tcp(), registry: staticRegistry({ Echo: [listener.address] }) });
      const payload = { text: 'x'.repeat(1000) };
      for (let i = 0; i < 10; i++) expect(await client.invoke('Echo', 'echo', payload)).toEqual(payload);
      const open = listener.stats;
      expect(open.connections).toBe(1);
      // Ten requests and ten answers of more than 1000 bytes each went through.
      expect(open.bytesRead).toBeGreaterThan(10_000);
      expect(open.bytesWritten).toBeGreaterThan(10_000);
      await client.close();
      await until(() => listener.stats.connections === 0);
      const closed = listener.stats;
      expect(closed.bytesRead).toBeGreaterThanOrEqual(open.bytesRead);
      expect(closed.bytesWritten).toBeGreaterThanOrEqual(open.bytesWritten);
    } finally {
      await listener.close();
    }
  });
});
