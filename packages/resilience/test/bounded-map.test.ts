import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../src/bounded-map.js';

/** The same text as a string made anew, as a token read from each call's metadata is. */
const fresh = (text: string): string => [...text].join('');

describe('BoundedMap', () => {
  it('finds a key given as a new string of the same text, the newest one too', () => {
    const map = new BoundedMap<string, number>(4);
    map.set('token-a', 1);
    map.set('token-b', 2);
    expect(map.get(fresh('token-b'))).toBe(2); // the newest
    expect(map.get(fresh('token-a'))).toBe(1); // moved to the end
    expect(map.get(fresh('token-a'))).toBe(1);
    expect(map.get('token-c')).toBeUndefined();
  });

  it('forgets the least recently used, and never answers for a key deleted, evicted or cleared', () => {
    const evicted: string[] = [];
    const map = new BoundedMap<string, number>(2, (_value, key) => evicted.push(key));
    map.set('a', 1);
    map.set('b', 2);
    expect(map.get('a')).toBe(1); // now b is the oldest
    map.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect(map.get('b')).toBeUndefined();
    map.delete('c'); // the newest
    expect(map.get('c')).toBeUndefined();
    map.set('c', 4);
    expect(map.get('c')).toBe(4);
    map.clear();
    expect(map.get('c')).toBeUndefined();
    expect(evicted).toEqual(['b', 'a', 'c']);
    const one = new BoundedMap<string, number>(1);
    one.set('x', 1);
    one.set('y', 2);
    expect(one.get('x')).toBeUndefined();
    expect(one.get('y')).toBe(2);
  });
});
