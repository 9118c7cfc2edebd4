import type protobuf from 'protobufjs';
import { schemaCollectionNested } from '../errors/framework-errors.js';
import type { FieldType, ServiceSchema } from './protobuf-schema.js';

/*
 * The schema as protobufjs reflection JSON, for those who want protobufjs's own tools
 * (Root.fromJSON, toObject, a gateway): the codec itself does not need it. The codec's tests
 * check that protobufjs reads what the codec writes and the other way round.
 */

/** The schema as protobufjs JSON (the shape Root.fromJSON reads). */
export function toProtobufJson(schema: ServiceSchema): protobuf.INamespace {
  const nested: Record<string, protobuf.AnyNestedObject> = {};
  for (const m of schema.messages) {
    const fields: Record<string, protobuf.IField & { rule?: string; keyType?: string }> = {};
    const oneofs: Record<string, protobuf.IOneOf> = {};
    for (const f of m.fields) {
      fields[f.name] = fieldJson(schema.service, f.type, f.no);
      if ((f.optional || f.nullable) && f.type.kind !== 'list' && f.type.kind !== 'map' && m.discriminant === undefined) {
        // proto3 `optional`: a synthetic oneof gives the field presence, so zeros still travel.
        fields[f.name]!.options = { proto3_optional: true };
        oneofs[`_${f.name}`] = { oneof: [f.name] };
      }
    }
    if (m.discriminant !== undefined) oneofs[m.discriminant] = { oneof: m.fields.map((f) => f.name) };
    const json: protobuf.IType = { fields, ...(Object.keys(oneofs).length ? { oneofs } : {}) };
    nested[m.name] = json;
  }
  for (const e of schema.enums) {
    nested[e.name] = { values: Object.fromEntries(e.values.map((v) => [v.name, v.no])) };
  }
  return {
    nested: {
      ...nestPackage(schema.package, nested),
      google: {
        nested: {
          protobuf: {
            nested: {
              Timestamp: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
              Empty: { fields: {} },
            },
          },
        },
      },
    },
  } as protobuf.INamespace;
}

function nestPackage(pkg: string, nested: Record<string, protobuf.AnyNestedObject>): Record<string, protobuf.AnyNestedObject> {
  const parts = pkg.split('.');
  let inner: Record<string, protobuf.AnyNestedObject> = nested;
  for (let i = parts.length - 1; i >= 0; i--) inner = { [parts[i]!]: { nested: inner } };
  return inner;
}

function fieldJson(service: string, type: FieldType, id: number): protobuf.IField & { rule?: string; keyType?: string } {
  switch (type.kind) {
    case 'list': {
      const element = elementName(service, type.element);
      const packable = type.element.kind === 'enum' || (type.element.kind === 'scalar' && type.element.scalar !== 'string' && type.element.scalar !== 'bytes');
      return { rule: 'repeated', type: element, id, ...(packable ? { options: { packed: true } } : {}) };
    }
    case 'map':
      return { keyType: type.key, type: elementName(service, type.value), id };
    default:
      return { type: elementName(service, type), id };
  }
}

function elementName(service: string, type: FieldType): string {
  switch (type.kind) {
    case 'scalar': return type.scalar;
    case 'timestamp': return '.google.protobuf.Timestamp';
    case 'message':
    case 'enum':
      return type.name;
    default:
      throw schemaCollectionNested(service, type.kind);
  }
}

