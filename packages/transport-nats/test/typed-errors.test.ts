import { describe, expect, it } from 'vitest';
import { Client, RpcError, staticRegistry } from '@svc/core';
import type { Dispatcher } from '@svc/core/transport';
import { nats, parseAddress } from '../src/index.js';

/** Every error the transport raises is an RpcError with a stable code, from nats-errors.ts or core's catalogue. */
describe('errors from the catalogue, not plain Errors', () => {
  const noCalls = (): never => {
    throw new Error('not called');
  };

  it('a bad option of nats() is INVALID_ARGUMENT', () => {
    for (const options of [{ callsPerMessage: 0 }, { writeBatchBytes: 0 }, { maxConcurrentCalls: -1 }, { maxMetadataEntries: 0.5 }]) {
      let thrown: unknown;
      try {
        nats(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(options)).toBeInstanceOf(RpcError);
      expect(thrown, JSON.stringify(options)).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^nats\(\): \w+ must be/) });
    }
  });

  it('an address without a server is INVALID_ARGUMENT, also when a call names it', async () => {
    expect(() => parseAddress('nats://')).toThrow(RpcError);
    const client = new Client({ transport: nats(), registry: staticRegistry({}) });
    try {
      await expect(client.invoke('Echo', 'who', {}, { address: 'nats://' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('names no NATS server') });
    } finally {
      await client.close();
    }
  });

  it('an event topic that cannot be a subject is INVALID_ARGUMENT at publish', async () => {
    const client = new Client({ transport: nats(), registry: staticRegistry({}), eventAddress: 'nats://127.0.0.1:1' });
    try {
      await expect(client.publish('orders created', {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('cannot travel over NATS') });
    } finally {
      await client.close();
    }
  });

  it('listening with a dispatcher that names no services, or names that cannot be subjects, is INVALID_ARGUMENT', async () => {
    const blind: Dispatcher = { dispatch: noCalls };
    await expect(nats().listen('nats://127.0.0.1:1', blind)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('listen through an @svc Server') });
    const badName: Dispatcher = { dispatch: noCalls, serviceDefinitions: [{ name: 'bad name', options: {}, methods: new Map() }] };
    await expect(nats().listen('nats://127.0.0.1:1', badName)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("service name 'bad name'") });
  });
});
