import { describe, expect, it } from 'vitest';
import { AddressMap } from '../src/client/address-map.js';

describe('AddressMap (the bounded per-address state of selectors that learn)', () => {
  it('forgets entries idle for longer than `idle`, at most once per idle / 2', () => {
    const forgotten: string[] = [];
    const map = new AddressMap<{ touched: number; name: string }>(100, 1_000, (e) => forgotten.push(e.name));
    map.add('a', { touched: 0, name: 'a' }, 0);
    map.add('b', { touched: 0, name: 'b' }, 0);
    map.maybeSweep(0);
    map.get('b')!.touched = 90;
    map.maybeSweep(40); // not due: the last sweep was at 0
    map.maybeSweep(101);
    expect(forgotten).toEqual(['a']);
    expect(map.get('a')).toBeUndefined();
    expect(map.get('b')).toBeDefined();
    expect(map.size).toBe(1);
  });

  it('never holds more than `max`, dropping the oldest tenth when full of live entries', () => {
    const map = new AddressMap<{ touched: number }>(1e9, 1_000);
    let most = 0;
    for (let i = 0; i < 200_000; i++) {
      map.add(`tcp://10.0.${i}:1`, { touched: i }, i);
      most = Math.max(most, map.size);
    }
    expect(most).toBe(1_000);
    expect(map.get('tcp://10.0.199999:1')).toBeDefined();
    expect(map.get('tcp://10.0.0:1')).toBeUndefined();
  });

  it('drops an entry on delete without telling onForget', () => {
    const forgotten: unknown[] = [];
    const map = new AddressMap<{ touched: number }>(10, 10, (e) => forgotten.push(e));
    map.add('a', { touched: 0 }, 0);
    map.delete('a');
    expect(map.size).toBe(0);
    expect(forgotten).toEqual([]);
  });
});
