import { readFileSync } from 'node:fs';
import type { StreamShape } from '@svc/core';

/**
 * svc.lock.json: the field numbers and enum values every service has used, committed by users
 * so that reordering or adding fields never renumbers them, and removed ones are never reused.
 */
export interface Lock {
  readonly lockVersion: 1;
  readonly services: Record<string, ServiceLock>;
}

export interface ServiceLock {
  package: string;
  /** Wire name → its messages, and the stream shape of a streaming method (absent: unary). */
  methods: Record<string, { request: string | null; response: string | null; stream?: StreamShape }>;
  /** Topic → payload message (null: no payload), for services with @Subscribe methods. */
  events?: Record<string, string | null>;
  messages: Record<string, MessageLock>;
  enums: Record<string, EnumLock>;
}

export interface MessageLock {
  /** Field name → number and wire type signature. */
  fields: Record<string, { no: number; type: string }>;
  reserved: { no: number; name: string }[];
}

export interface EnumLock {
  /** Value name (in the .proto) → number. */
  values: Record<string, number>;
  reserved: { no: number; name: string }[];
}

export function emptyLock(): Lock {
  return { lockVersion: 1, services: {} };
}

export function emptyServiceLock(pkg: string): ServiceLock {
  return { package: pkg, methods: {}, messages: {}, enums: {} };
}

export function readLock(path: string): Lock {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyLock();
    throw error;
  }
  let lock: Lock;
  try {
    lock = JSON.parse(text) as Lock;
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); restore it from version control, it pins your field numbers`);
  }
  if (lock.lockVersion !== 1 || typeof lock.services !== 'object') {
    throw new Error(`${path} is not an svc-gen lock file of version 1; restore it from version control`);
  }
  const problems = lockProblems(lock);
  if (problems.length) {
    throw new Error(`${path}: ${problems.join('; ')}. Fix the lock by hand (each number belongs to one field or value, reserved ones to none), usually by keeping the side of a merge that is already deployed`);
  }
  return lock;
}

/** Numbers given twice, or both given and reserved: what a bad merge of two branches leaves. */
export function lockProblems(lock: Lock): string[] {
  const problems: string[] = [];
  for (const [service, s] of Object.entries(lock.services)) {
    const check = (owner: string, used: [string, number][], reserved: { no: number; name: string }[]): void => {
      const byNo = new Map<number, string>();
      for (const [name, no] of used) {
        const other = byNo.get(no);
        if (other !== undefined) problems.push(`${service}.${owner}: number ${no} is given to both ${other} and ${name}`);
        byNo.set(no, name);
      }
      for (const r of reserved) {
        const user = byNo.get(r.no);
        if (user !== undefined) problems.push(`${service}.${owner}: number ${r.no} is reserved (was ${r.name}) but given to ${user}`);
      }
    };
    for (const [name, m] of Object.entries(s.messages)) check(name, Object.entries(m.fields).map(([f, v]) => [f, v.no]), m.reserved);
    for (const [name, e] of Object.entries(s.enums)) check(name, Object.entries(e.values), e.reserved);
  }
  return problems;
}

/** Stable text: sorted keys, so the lock diffs cleanly. */
export function formatLock(lock: Lock): string {
  return JSON.stringify(sortKeys(lock), null, 2) + '\n';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}
