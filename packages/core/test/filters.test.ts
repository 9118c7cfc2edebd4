import { describe, expect, it } from 'vitest';
import { composeFilters, type Call, type Filter } from '../src/filter/filter.js';
import { Client, Method, Server, Service, inproc, staticRegistry, RpcError, silentLogger } from '../src/index.js';

const call = (): Call => ({ side: 'client', kind: 'call', service: 's', method: 'm', request: 1, metadata: {}, deadline: 0, signal: new AbortController().signal });

describe('composeFilters', () => {
  it('runs filters outermost first and lets them change the request and the result', async () => {
    const order: string[] = [];
    const a: Filter = async (c, next) => {
      order.push('a>');
      c.request = (c.request as number) + 1;
      const r = await next();
      order.push('<a');
      return (r as number) * 10;
    };
    const b: Filter = async (c, next) => {
      order.push('b>');
      const r = await next();
      order.push('<b');
      return r;
    };
    const chain = composeFilters([a, b], async (c) => {
      order.push('terminal');
      return c.request;
    });
    expect(await chain(call())).toBe(20);
    expect(order).toEqual(['a>', 'b>', 'terminal', '<b', '<a']);
  });

  it('refuses a second next() in the same call', async () => {
    let terminalRuns = 0;
    const twice: Filter = async (_c, next) => {
      await next();
      return next();
    };
    const chain = composeFilters([twice], async () => ++terminalRuns);
    await expect(chain(call())).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('next() twice') });
    expect(terminalRuns).toBe(1);
  });

  it('is the terminal itself when there are no filters', () => {
    const terminal = async (): Promise<number> => 1;
    expect(composeFilters([], terminal)).toBe(terminal);
  });
});

@Service('Guarded')
class Guarded {
  @Method()
  async whoami(_req: unknown, ctx: { metadata: Record<string, string> }): Promise<string> {
    return ctx.metadata.user ?? 'nobody';
  }
}

describe('filters on a real server and client', () => {
  it('a server filter can refuse a call before the handler, a client filter can add metadata', async () => {
    const auth: Filter = async (c, next) => {
      if (c.metadata.token !== 'secret') throw new RpcError('UNAUTHENTICATED', 'send a token in metadata.token');
      (c.metadata as Record<string, string>).user = 'ada';
      return next();
    };
    const t = inproc();
    const server = new Server({ transport: t, filters: [auth], logger: silentLogger }).register(new Guarded());
    await server.listen('inproc://guarded');
    const plain = new Client({ transport: t, registry: staticRegistry({ Guarded: ['inproc://guarded'] }) });
    await expect(plain.invoke('Guarded', 'whoami', {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const withToken: Filter = (c, next) => {
      c.metadata.token = 'secret';
      return next();
    };
    const authed = new Client({ transport: t, registry: staticRegistry({ Guarded: ['inproc://guarded'] }), filters: [withToken] });
    expect(await authed.invoke('Guarded', 'whoami', {})).toBe('ada');
    await plain.close();
    await authed.close();
    await server.close();
  });
});
