import { afterAll, describe, expect, it } from 'vitest';
import { CodegenFailure, Generator } from '../src/index.js';
import { tempProject } from './helpers.js';

function failureOf(tsconfig: string): string[] {
  try {
    new Generator({ tsconfig }).generate();
  } catch (error) {
    expect(error).toBeInstanceOf(CodegenFailure);
    return (error as CodegenFailure).errors.map((e) => e.message);
  }
  throw new Error('svc-gen accepted a project it should refuse');
}

// Every problem with @Subscribe that svc-gen refuses, all reported in one run with file:line:col.
describe('svc-gen refuses untypable events', () => {
  const project = tempProject({
    'src/bad.ts': `import { EventContext, Service, Subscribe } from '@svc/core';

const TOPIC = 'orders.created';
export interface Order { id: string }
export interface Refund { id: string; amount: number }

@Service('Shop')
export class Shop {
  @Subscribe(TOPIC) async byConstant(order: Order): Promise<void> {}
  @Subscribe('orders.paid') async paid(order: Order): Promise<void> {}
  @Subscribe('orders.paid') async paidAgain(refund: Refund): Promise<void> {}
  @Subscribe('orders.any') async untyped(entry: unknown, ctx: EventContext): Promise<void> {}
  @Subscribe('orders.typeless') async typeless(entry): Promise<void> {}
}

@Service('Billing')
export class Billing {
  @Subscribe('refunds.made') async made(refund: Refund): Promise<void> {}
}

@Service('Audit')
export class Audit {
  @Subscribe('refunds.made') async made(order: Order): Promise<void> {}
}
`,
  });
  afterAll(() => project.remove());
  const messages = failureOf(project.tsconfig);

  it('reports every problem', () => {
    expect(messages).toHaveLength(5);
  });

  it.each([
    ['src/bad.ts:9:3 Shop.byConstant: the topic of @Subscribe(TOPIC) is not a string literal', "Write the topic itself in the decorator: @Subscribe('orders.created')"],
    ["src/bad.ts:11:3 paidAgain ('orders.paid'): the topic 'orders.paid' is handled with the payload Refund here and with Order by paid (src/bad.ts:10:3)", 'Give both handlers the same payload type, or publish the two kinds on two topics'],
    ["Shop.untyped ('orders.any') → entry: 'unknown' has no wire shape", 'Give it a concrete type'],
    ["Shop.typeless ('orders.typeless') → entry: the payload parameter has no type annotation", 'Annotate it: (order: Order, ctx: EventContext)'],
    ["src/bad.ts:23:3 Audit.made ('refunds.made'): the topic 'refunds.made' is handled with the payload Order here and with Refund by Billing.made (src/bad.ts:18:3)", 'one topic carries one payload type'],
  ])('%s', (what, hint) => {
    const message = messages.find((m) => m.includes(what));
    expect(message, `no error containing: ${what}\n${messages.join('\n')}`).toBeDefined();
    expect(message).toContain(hint);
  });
});

describe('svc-gen refuses subscribers that would read one topic differently', () => {
  const field = (no: number) => ({ no, type: 'string' });
  const lock = (a: number, b: number) => ({ package: '', methods: {}, messages: { Note: { fields: { a: field(a), b: field(b) }, reserved: [] } }, enums: {} });
  const project = tempProject({
    'src/notes.ts': `import { Service, Subscribe } from '@svc/core';
export interface Note { a: string; b: string }
@Service('Left') export class Left { @Subscribe('notes.added') async add(note: Note): Promise<void> {} }
@Service('Right') export class Right { @Subscribe('notes.added') async add(note: Note): Promise<void> {} }
`,
    // As a bad merge or separate histories leave it: the two services number Note differently.
    'svc.lock.json': JSON.stringify({ lockVersion: 1, services: { Left: { ...lock(1, 2), package: 'left' }, Right: { ...lock(2, 1), package: 'right' } } }),
  });
  afterAll(() => project.remove());

  it('names the topic, both services and the lock entries to align', () => {
    const messages = failureOf(project.tsconfig);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain("src/notes.ts:4:40 Right.add ('notes.added'): the payload Note of 'notes.added' has other field numbers or enum values in Right than in Left");
    expect(messages[0]).toContain('Make the entries of Note (and the types it uses) under Right and Left in svc.lock.json the same');
  });
});

describe('svc-gen and pattern subscriptions', () => {
  const project = tempProject({
    'src/audit.ts': `import { Service, Subscribe } from '@svc/core';
export interface Login { user: string }
@Service('Audit')
export class Audit {
  @Subscribe('audit.login') async login(entry: Login): Promise<void> {}
  @Subscribe('audit.>') async everything(entry: unknown): Promise<void> {}
  @Subscribe('orders.*') async orders(): Promise<void> {}
}
`,
  });
  afterAll(() => project.remove());

  it('types the named topics and leaves the patterns out, without failing', () => {
    const result = new Generator({ tsconfig: project.tsconfig }).generate();
    const audit = result.services.find((s) => s.schema.service === 'Audit')!;
    expect(audit.schema.events?.map((e) => e.topic)).toEqual(['audit.login']);
    const events = result.files.find((f) => f.path.endsWith('events.ts'))!;
    expect(events.content).toContain('"audit.login": Login');
    expect(events.content).not.toContain('audit.>');
    expect(events.content).not.toContain('orders.*');
  });
});

