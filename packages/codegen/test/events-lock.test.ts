import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CodegenFailure, Generator, runCli } from '../src/index.js';
import { tempProject } from './helpers.js';

const service = (payload: string, extra = ''): string => `import { Service, Subscribe } from '@svc/core';

export interface Order { id: string; qty: number }
export interface Refund { id: string; amount: number }

@Service('Shop')
export class Shop {
  @Subscribe('orders.created') async onOrder(payload: ${payload}): Promise<void> {}
${extra}}
`;
const EXTRA = `  @Subscribe('orders.shipped') async onShipped(order: Order): Promise<void> {}\n`;

const project = tempProject({ 'src/shop.ts': service('Order', EXTRA) });
afterAll(() => project.remove());

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['-p', project.tsconfig, ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
const lock = (): { services: { Shop: { events: Record<string, string | null> } } } => JSON.parse(readFileSync(join(project.root, 'svc.lock.json'), 'utf8'));

// One project through its history, in order.
describe('svc.lock.json records topics', () => {
  it('writes each topic with its payload message', async () => {
    expect((await cli()).code).toBe(0);
    expect(lock().services.Shop.events).toEqual({ 'orders.created': 'Order', 'orders.shipped': 'Order' });
  });

  it('a topic whose payload becomes another message is a breaking change; --allow-breaking records it', async () => {
    project.write('src/shop.ts', service('Refund', EXTRA));
    const check = await cli('--check');
    expect(check.code).toBe(1);
    expect(check.err).toContain("BREAKING Shop 'orders.created': event payload changed from Order to Refund; events from publishers built before are misread (src/shop.ts:8)");
    expect((await cli()).code).toBe(1);
    expect(lock().services.Shop.events['orders.created']).toBe('Order');
    expect((await cli('--allow-breaking')).code).toBe(0);
    expect(lock().services.Shop.events['orders.created']).toBe('Refund');
  });

  it('a topic no longer subscribed is reported, not breaking', async () => {
    project.write('src/shop.ts', service('Refund'));
    const run = await cli();
    expect(run.code).toBe(0);
    expect(run.out).toContain("Shop 'orders.shipped': no longer subscribed; events on it reach no handler of Shop");
    expect(lock().services.Shop.events).toEqual({ 'orders.created': 'Refund' });
  });
});

describe('events under --watch (Generator.update)', () => {
  const sub = (service: string, payload: string) => `import { Service, Subscribe } from '@svc/core';
import type { Note, Memo } from './types.js';

@Service('${service}')
export class ${service} {
  @Subscribe('notes.added') async add(note: ${payload}): Promise<void> {}
}
`;
  const watched = tempProject({
    'src/types.ts': 'export interface Note { text: string }\nexport interface Memo { body: string }\n',
    'src/left.ts': sub('Left', 'Note'),
    'src/right.ts': sub('Right', 'Note'),
  });
  afterAll(() => watched.remove());

  it('regenerates events.ts when a payload type changes, and refuses a topic whose services disagree', async () => {
    const generator = new Generator({ tsconfig: watched.tsconfig });
    generator.write(generator.generate());
    const eventsFile = join(watched.root, 'src/generated/events.ts');
    expect(readFileSync(eventsFile, 'utf8')).toContain('  "notes.added": Note;');

    // Only right.ts is re-read: the conflict with Left is still found.
    watched.write('src/right.ts', sub('Right', 'Memo'));
    let failure: unknown;
    try {
      generator.update([join(watched.root, 'src/right.ts')]);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(CodegenFailure);
    expect((failure as Error).message).toContain("Right.add ('notes.added'): the topic 'notes.added' is handled with the payload Memo here and with Note by Left.add");

    // A field added to the shared payload type: both services and events.ts follow.
    watched.write('src/right.ts', sub('Right', 'Note'));
    watched.write('src/types.ts', 'export interface Note { text: string; by?: string }\nexport interface Memo { body: string }\n');
    const result = generator.update([join(watched.root, 'src/types.ts'), join(watched.root, 'src/right.ts')]);
    generator.write(result);
    expect([...result.regenerated].sort()).toEqual(['Left', 'Right']);
    expect(readFileSync(join(watched.root, 'src/generated/left.proto'), 'utf8')).toContain('  optional string by = 2;');
    expect(readFileSync(join(watched.root, 'src/generated/right.proto'), 'utf8')).toContain('  optional string by = 2;');
  });
});
