import type { StreamShape } from '../server/stream-context.js';

/**
 * The runtime schema of one service, as svc-gen writes it into `<service>.descriptor.ts`.
 * Plain JSON: the protobuf codec turns it into a protobufjs Root (reflection) and into the
 * converters between the TypeScript values a handler sees and the protobuf messages on the wire.
 * svc-gen's .proto emitter reads the same structure, so the two cannot disagree.
 */

export type ScalarName =
  | 'double' | 'float'
  | 'int32' | 'uint32' | 'sint32' | 'fixed32' | 'sfixed32'
  | 'int64' | 'uint64' | 'sint64' | 'fixed64' | 'sfixed64'
  | 'bool' | 'string' | 'bytes';

/** Map keys protobuf allows. */
export type MapKeyName = Exclude<ScalarName, 'double' | 'float' | 'bytes'>;

export type FieldType =
  /** number, string, boolean, bigint (64-bit widths), Uint8Array (bytes). */
  | { readonly kind: 'scalar'; readonly scalar: ScalarName }
  /** Date ↔ google.protobuf.Timestamp. */
  | { readonly kind: 'timestamp' }
  /** Another message of the same schema (an object type or a discriminated union). */
  | { readonly kind: 'message'; readonly name: string }
  /** An enum of the same schema (string-literal union or TS enum). */
  | { readonly kind: 'enum'; readonly name: string }
  /** T[] ↔ repeated T. */
  | { readonly kind: 'list'; readonly element: FieldType }
  /** Map<K, V> (`js: 'map'`) or Record<string, V> (`js: 'record'`) ↔ map<K, V>. */
  | { readonly kind: 'map'; readonly key: MapKeyName; readonly value: FieldType; readonly js: 'map' | 'record' };

export interface FieldSchema {
  /** Property name in TypeScript and field name in the .proto. */
  readonly name: string;
  /** Field number, pinned by svc.lock.json. */
  readonly no: number;
  readonly type: FieldType;
  /** `name?: T` or `T | undefined`: proto3 optional; an absent field decodes to a missing key. */
  readonly optional?: boolean;
  /** `T | null`: proto3 optional; an absent field decodes to null (unless also optional). */
  readonly nullable?: boolean;
  /** For the variants of a discriminated union: the discriminant's value this field stands for. */
  readonly tag?: string | number | boolean;
}

export interface MessageSchema {
  readonly name: string;
  readonly fields: readonly FieldSchema[];
  /**
   * Set for a discriminated union: every field is one variant (a message without the
   * discriminant), all in a oneof named after the discriminant property.
   */
  readonly discriminant?: string;
  /** Numbers and names that were used once and must never be reused. */
  readonly reserved?: { readonly numbers: readonly number[]; readonly names: readonly string[] };
  /** Where the type was declared, for messages and docs: `src/arith.ts:12`. */
  readonly source?: string;
}

export interface EnumValueSchema {
  /** Name in the .proto: COLOR_RED. */
  readonly name: string;
  readonly no: number;
  /** The TypeScript value: a string literal or a TS enum member's value. Absent for the 0 placeholder. */
  readonly value?: string | number;
}

export interface EnumSchema {
  readonly name: string;
  readonly values: readonly EnumValueSchema[];
  readonly reserved?: { readonly numbers: readonly number[]; readonly names: readonly string[] };
  readonly source?: string;
}

export interface MethodSchema {
  /** Name on the wire. */
  readonly name: string;
  /** Request message; null when the method takes no argument (google.protobuf.Empty). */
  readonly request: string | null;
  /** Response message; null for `void` results (google.protobuf.Empty). */
  readonly response: string | null;
  /** A request that is not an object (e.g. `number`) travels as the field `value` of its message. */
  readonly requestWrapped?: boolean;
  readonly responseWrapped?: boolean;
  /** `@Method({ idempotent: true })`: safe to run twice, so a client's fail mode may retry or hedge it after it was processed. */
  readonly idempotent?: boolean;
  /** `@Method({ timeout })` in ms: the server cuts the handler off then, so a client need not wait longer. */
  readonly timeout?: number;
  /**
   * A stream, and which sides send many messages; absent: a unary method (or a descriptor made
   * before svc-gen wrote the field). A client calling a stream another way fails at once
   * (`calledAsOtherShape`).
   */
  readonly stream?: StreamShape;
}

/**
 * An event a service subscribes to (`@Subscribe('orders.created') onOrder(order: Order)`): its
 * payload travels as `message`, like a method's request. svc-gen writes one entry per topic.
 */
export interface EventSchema {
  /** The literal topic, e.g. 'orders.created' (patterns are not typed). */
  readonly topic: string;
  /** Payload message; null when the handler takes no payload (an empty body). */
  readonly message: string | null;
  /** A payload that is not an object (e.g. `string`) travels as the field `value` of its message. */
  readonly wrapped?: boolean;
}

export interface ServiceSchema {
  /** Format of this structure; the codec refuses versions it does not know. */
  readonly schemaVersion: 1;
  /** Service name on the wire. */
  readonly service: string;
  /** protobuf package of the .proto file. */
  readonly package: string;
  readonly methods: readonly MethodSchema[];
  readonly messages: readonly MessageSchema[];
  readonly enums: readonly EnumSchema[];
  /**
   * The topics this service's @Subscribe methods take, with their payload messages. Optional:
   * schemas without events (older svc-gen, services without @Subscribe) leave it out.
   */
  readonly events?: readonly EventSchema[];
}

export const SCHEMA_VERSION = 1;

/** 64-bit integer widths: bigint in TypeScript. */
export function isLongScalar(scalar: ScalarName): boolean {
  return scalar === 'int64' || scalar === 'uint64' || scalar === 'sint64' || scalar === 'fixed64' || scalar === 'sfixed64';
}
