import type { FieldSchema, FieldType, MessageSchema, ServiceSchema, StreamShape } from '@svc/core';
import { GENERATED } from './header.js';

/**
 * proto3 text of one service: what `protoc` compiles for other languages. `streams` (wire method
 * name → shape) puts `stream` on the iterable side of streaming methods.
 */
export function emitProto(schema: ServiceSchema, source: string, streams: Readonly<Record<string, StreamShape>> = {}): string {
  const imports = new Set<string>();
  const body: string[] = [];
  const usesEmpty = schema.methods.some((m) => m.request === null || m.response === null);
  if (usesEmpty) imports.add('google/protobuf/empty.proto');

  body.push(`service ${schema.service} {`);
  for (const m of schema.methods) {
    const shape = streams[m.name];
    const requestStream = shape === 'client' || shape === 'bidi' ? 'stream ' : '';
    const responseStream = shape === 'server' || shape === 'bidi' ? 'stream ' : '';
    const rpc = `  rpc ${m.name} (${requestStream}${m.request ?? 'google.protobuf.Empty'}) returns (${responseStream}${m.response ?? 'google.protobuf.Empty'})`;
    // proto3 has no timeout option; other languages' stubs learn it from the comment.
    const timeout = m.timeout !== undefined ? ` // timeout: ${m.timeout} ms` : '';
    // descriptor.proto's MethodOptions: IDEMPOTENT is "may be retried", which @Method({ idempotent })
    // says; NO_SIDE_EFFECTS (which gRPC-web and Connect turn into GET) says more than it does.
    if (m.idempotent) body.push(`${rpc} {${timeout}`, '    option idempotency_level = IDEMPOTENT;', '  }');
    else body.push(`${rpc};${timeout}`);
  }
  body.push('}');
  if (schema.events?.length) {
    // proto3 has no events: each payload is a message, published on its topic (docs/events.md).
    body.push('');
    body.push(`// Events ${schema.service} subscribes to: topic → payload message (none: an empty body).`);
    for (const e of schema.events) body.push(`//   ${e.topic} → ${e.message ?? 'none'}${e.wrapped ? ' (the payload is its field value)' : ''}`);
  }

  for (const message of schema.messages) {
    body.push('');
    body.push(...emitMessage(message, imports));
  }
  for (const e of schema.enums) {
    body.push('');
    if (e.source) body.push(`// ${e.source}`);
    body.push(`enum ${e.name} {`);
    if (e.reserved && e.reserved.numbers.length) body.push(`  reserved ${e.reserved.numbers.join(', ')};`);
    if (e.reserved && e.reserved.names.length) body.push(`  reserved ${e.reserved.names.map((n) => JSON.stringify(n)).join(', ')};`);
    for (const v of e.values) body.push(`  ${v.name} = ${v.no};`);
    body.push('}');
  }

  const head = [`// ${GENERATED}`, `// source: ${source}`, 'syntax = "proto3";', '', `package ${schema.package};`, ''];
  for (const i of [...imports].sort()) head.push(`import "${i}";`);
  if (imports.size) head.push('');
  return [...head, ...body, ''].join('\n');
}

function emitMessage(message: MessageSchema, imports: Set<string>): string[] {
  const out: string[] = [];
  if (message.source) out.push(`// ${message.source}`);
  out.push(`message ${message.name} {`);
  if (message.reserved && message.reserved.numbers.length) out.push(`  reserved ${message.reserved.numbers.join(', ')};`);
  if (message.reserved && message.reserved.names.length) out.push(`  reserved ${message.reserved.names.map((n) => JSON.stringify(n)).join(', ')};`);
  if (message.discriminant !== undefined) {
    out.push(`  oneof ${message.discriminant} {`);
    for (const f of message.fields) out.push(`    ${typeName(f.type, imports)} ${f.name} = ${f.no};${f.tag !== undefined ? ` // ${message.discriminant}: ${JSON.stringify(f.tag)}` : ''}`);
    out.push('  }');
  } else {
    for (const f of message.fields) out.push(`  ${fieldLine(f, imports)}`);
  }
  out.push('}');
  return out;
}

function fieldLine(f: FieldSchema, imports: Set<string>): string {
  const t = f.type;
  if (t.kind === 'list') return `repeated ${typeName(t.element, imports)} ${f.name} = ${f.no};`;
  if (t.kind === 'map') return `map<${t.key}, ${typeName(t.value, imports)}> ${f.name} = ${f.no};`;
  const optional = f.optional || f.nullable ? 'optional ' : '';
  return `${optional}${typeName(t, imports)} ${f.name} = ${f.no};`;
}

function typeName(t: FieldType, imports: Set<string>): string {
  switch (t.kind) {
    case 'scalar': return t.scalar;
    case 'timestamp':
      imports.add('google/protobuf/timestamp.proto');
      return 'google.protobuf.Timestamp';
    case 'message':
    case 'enum':
      return t.name;
    case 'list':
    case 'map':
      throw new Error(`internal: nested ${t.kind} reached the proto emitter`);
  }
}
