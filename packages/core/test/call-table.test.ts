import { describe, expect, it } from 'vitest';
import { CallTable } from '../src/transport/call-table.js';

describe('CallTable', () => {
  it('keeps, finds and forgets calls by numeric id, counting them', () => {
    const table = new CallTable<number, { id: number }>();
    for (let id = 1; id <= 5_000; id++) {
      table.set(id, { id });
      if (id > 100) expect(table.delete(id - 100)).toBe(true);
    }
    expect(table.size).toBe(100);
    expect(table.get(4_901)).toEqual({ id: 4_901 });
    expect(table.has(4_900)).toBe(false);
    expect(table.get(4_900)).toBeUndefined();
    expect(table.delete(4_900)).toBe(false);
    expect(table.size).toBe(100);
    expect(table.values().map((v) => v.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => 4_901 + i));
  });

  it('replacing a value does not count it twice', () => {
    const table = new CallTable<number, string>();
    table.set(7, 'dispatching');
    table.set(7, 'running');
    expect(table.size).toBe(1);
    expect(table.get(7)).toBe('running');
  });

  it('works with string keys (reply subjects), including ones named like Object members', () => {
    const table = new CallTable<string, number>();
    table.set('_INBOX.abc.1', 1);
    table.set('constructor', 2);
    table.set('__proto__', 3);
    expect(table.get('constructor')).toBe(2);
    expect(table.get('__proto__')).toBe(3);
    expect(table.has('toString')).toBe(false);
    expect(table.size).toBe(3);
    expect(table.delete('__proto__')).toBe(true);
    expect(table.values().sort()).toEqual([1, 2]);
  });

  it('values() is a snapshot: deleting while walking visits every entry once', () => {
    const table = new CallTable<number, number>();
    for (let id = 1; id <= 50; id++) table.set(id, id);
    const seen: number[] = [];
    for (const v of table.values()) {
      seen.push(v);
      table.delete(v);
      table.delete(v + 1);
    }
    expect(seen).toHaveLength(50);
    expect(table.size).toBe(0);
    table.set(1, 1);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
  });

  it('keeps a long-lived call while ids wrap around the ring many times, and grows under load', () => {
    const table = new CallTable<number, string>();
    table.set(1, 'long-lived');
    const live: number[] = [];
    for (let id = 2; id <= 100_000; id++) {
      table.set(id, `call ${id}`);
      live.push(id);
      if (live.length > 50) table.delete(live.shift()!);
    }
    expect(table.get(1)).toBe('long-lived');
    expect(table.size).toBe(51);
    for (const id of live) expect(table.get(id)).toBe(`call ${id}`);
    // Thousands in flight at once, ids far apart: all found, all removed.
    const many = Array.from({ length: 5_000 }, (_, i) => 1_000_000 + i * 37);
    for (const id of many) table.set(id, `far ${id}`);
    expect(table.size).toBe(5_051);
    for (const id of many) expect(table.get(id)).toBe(`far ${id}`);
    for (const id of many) expect(table.delete(id)).toBe(true);
    expect(table.get(1)).toBe('long-lived');
    expect(table.size).toBe(51);
    expect(table.delete(1)).toBe(true);
    expect(table.has(1)).toBe(false);
  });

  it('handles ids up to 2^32 - 1, as TCP request ids go', () => {
    const table = new CallTable<number, number>();
    for (const id of [0xffffffff, 0xfffffffe, 1, 0x80000000]) table.set(id, id);
    for (const id of [0xffffffff, 0xfffffffe, 1, 0x80000000]) expect(table.get(id)).toBe(id);
    expect(table.size).toBe(4);
  });
});
