import type { ServiceSchema } from '@svc/core';
import { tsHeader } from './header.js';

/** The runtime descriptor module the protobuf codec loads: `export const ArithSchema = {...}`. */
export function emitDescriptor(schema: ServiceSchema, source: string, coreImport: string): string {
  return `${tsHeader(source)}import type { ServiceSchema } from '${coreImport}';

export const ${schemaConst(schema.service)}: ServiceSchema = ${format(schema, '')};
`;
}

export function schemaConst(service: string): string {
  return `${service}Schema`;
}

/** JSON with one field, value or method per line: readable diffs, no 2,000-line files. */
function format(value: unknown, indent: string): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => typeof v !== 'object' || v === null || !hasNested(v))) {
      return `[\n${value.map((v) => `${indent}  ${JSON.stringify(v)}`).join(',\n')},\n${indent}]`;
    }
    return `[\n${value.map((v) => `${indent}  ${format(v, indent + '  ')}`).join(',\n')},\n${indent}]`;
  }
  if (value && typeof value === 'object') {
    if (!hasNested(value)) return JSON.stringify(value);
    const entries = Object.entries(value).map(([k, v]) => `${indent}  ${JSON.stringify(k)}: ${format(v, indent + '  ')}`);
    return `{\n${entries.join(',\n')},\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** True when an object holds arrays of objects (messages, fields), which get their own lines. */
function hasNested(value: object): boolean {
  return Object.values(value).some((v) => Array.isArray(v) && v.some((e) => e && typeof e === 'object'));
}
