import { fileURLToPath } from 'node:url';
import type { int32 } from '@svc/core';

/**
 * The request every row sends and the server echoes back. As JSON it is exactly
 * MESSAGE_BYTES bytes. proto/echo.proto has the same fields for grpc-js; the @svc protobuf row
 * uses what svc-gen makes of this interface (src/generated/echo.proto, the same wire types).
 */
export interface EchoMessage {
  /** Ten digits, different for every call, so a reply can be matched to its request. */
  requestId: string;
  user: { id: int32; name: string; email: string; verified: boolean };
  tags: string[];
  score: number;
  createdAt: string;
  locale: string;
  items: { sku: string; quantity: int32; price: number }[];
  /** Padding that brings the JSON form to MESSAGE_BYTES. */
  note: string;
}

export const MESSAGE_BYTES = 581;

/** Path of the .proto file with the same message, for grpc-js and the @svc protobuf row. */
export const PROTO_PATH = fileURLToPath(new URL('../proto/echo.proto', import.meta.url));

const template: EchoMessage = {
  requestId: '0000000000',
  user: { id: 48213, name: 'Ada Lovelace', email: 'ada.lovelace@example.com', verified: true },
  tags: ['analytical-engine', 'notes', 'bernoulli', 'poetical-science'],
  score: 98.625,
  createdAt: '2026-11-22T02:30:00.000Z',
  locale: 'en-GB',
  items: [
    { sku: 'AE-0001-BRASS', quantity: 3, price: 19.99 },
    { sku: 'AE-0002-CARDS', quantity: 120, price: 0.25 },
    { sku: 'AE-0003-GEARS', quantity: 42, price: 4.75 },
  ],
  note: '',
};

template.note = 'x'.repeat(MESSAGE_BYTES - Buffer.byteLength(JSON.stringify(template)));

/** A fresh message for call number `seq` (shallow copy of one template; only requestId differs). */
export function messageFor(seq: number): EchoMessage {
  return { ...template, requestId: String(seq % 1e10).padStart(10, '0') };
}

/** Field by field, without stringifying: cheap enough to run on every reply. */
export function sameMessage(a: EchoMessage, b: unknown): boolean {
  if (typeof b !== 'object' || b === null) return false;
  const m = b as EchoMessage;
  if (m.requestId !== a.requestId || m.score !== a.score || m.createdAt !== a.createdAt || m.locale !== a.locale || m.note !== a.note) return false;
  const u = m.user;
  if (typeof u !== 'object' || u === null) return false;
  if (u.id !== a.user.id || u.name !== a.user.name || u.email !== a.user.email || u.verified !== a.user.verified) return false;
  if (!Array.isArray(m.tags) || m.tags.length !== a.tags.length) return false;
  for (let i = 0; i < a.tags.length; i++) if (m.tags[i] !== a.tags[i]) return false;
  if (!Array.isArray(m.items) || m.items.length !== a.items.length) return false;
  for (let i = 0; i < a.items.length; i++) {
    const x = m.items[i]!;
    const y = a.items[i]!;
    if (x.sku !== y.sku || x.quantity !== y.quantity || x.price !== y.price) return false;
  }
  return true;
}
