import type { FieldSchema, FieldType, ServiceSchema, StreamShape } from '@svc/core';
import { GENERATED } from './header.js';

/** JSON Schema (2020-12) of every message and enum of a service, for gateways and docs. */
export function emitJsonSchema(schema: ServiceSchema, streams: Readonly<Record<string, StreamShape>> = {}): string {
  const defs: Record<string, unknown> = {};
  for (const m of schema.messages) {
    if (m.discriminant !== undefined) {
      defs[m.name] = {
        oneOf: m.fields.map((f) => ({
          allOf: [
            { $ref: `#/$defs/${refName(f.type)}` },
            { type: 'object', properties: { [m.discriminant!]: { const: f.tag } }, required: [m.discriminant] },
          ],
        })),
      };
      continue;
    }
    defs[m.name] = {
      type: 'object',
      properties: Object.fromEntries(m.fields.map((f) => [f.name, fieldSchema(f)])),
      required: m.fields.filter((f) => !f.optional && !f.nullable && f.type.kind !== 'list' && f.type.kind !== 'map').map((f) => f.name),
    };
  }
  for (const e of schema.enums) {
    const values = e.values.filter((v) => v.value !== undefined).map((v) => v.value);
    defs[e.name] = { enum: values };
  }
  return JSON.stringify({
    $comment: GENERATED,
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `svc:${schema.package}`,
    title: schema.service,
    methods: Object.fromEntries(schema.methods.map((m) => [m.name, { request: m.request, response: m.response, ...(streams[m.name] ? { stream: streams[m.name] } : {}) }])),
    ...(schema.events?.length ? { events: Object.fromEntries(schema.events.map((e) => [e.topic, { payload: e.message }])) } : {}),
    $defs: defs,
  }, null, 2) + '\n';
}

function refName(t: FieldType): string {
  return t.kind === 'message' || t.kind === 'enum' ? t.name : '';
}

function fieldSchema(f: FieldSchema): unknown {
  const s = typeSchema(f.type);
  return f.nullable ? { anyOf: [s, { type: 'null' }] } : s;
}

function typeSchema(t: FieldType): unknown {
  switch (t.kind) {
    case 'scalar':
      if (t.scalar === 'string') return { type: 'string' };
      if (t.scalar === 'bool') return { type: 'boolean' };
      if (t.scalar === 'bytes') return { type: 'string', contentEncoding: 'base64' };
      if (t.scalar === 'double' || t.scalar === 'float') return { type: 'number' };
      if (/64$/.test(t.scalar)) return { type: 'string', pattern: t.scalar.startsWith('u') || t.scalar === 'fixed64' ? '^[0-9]+$' : '^-?[0-9]+$', format: t.scalar };
      return { type: 'integer', format: t.scalar };
    case 'timestamp': return { type: 'string', format: 'date-time' };
    case 'message':
    case 'enum':
      return { $ref: `#/$defs/${t.name}` };
    case 'list': return { type: 'array', items: typeSchema(t.element) };
    case 'map': return { type: 'object', additionalProperties: typeSchema(t.value) };
  }
}
