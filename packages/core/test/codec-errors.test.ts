import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors/framework-errors.js';
import { RpcError, protobufCodec, schemaJsonCodec, toProtobufJson, type ServiceSchema } from '../src/index.js';

// Issue 12, defect 14 (codecs): every error a codec raises is made in errors/framework-errors.ts,
// an RpcError with a stable code, with the messages (and `details.field`) users saw before.

const src = new URL('../src/', import.meta.url);

describe('codec errors come from errors/framework-errors.ts', () => {
  it('no codec source builds an RpcError, a TypeError or an Error that can reach a caller', () => {
    const files = [
      ...readdirSync(new URL('codec/', src)).filter((f) => f.endsWith('.ts') && f !== 'compression.ts').map((f) => `codec/${f}`),
      'events/event-codec.ts',
    ];
    expect(files.length).toBeGreaterThan(8);
    for (const file of files) {
      const text = readFileSync(new URL(file, src), 'utf8');
      expect(text, file).not.toMatch(/new RpcError\(|new TypeError\(/);
      // schema-json-compiler.ts's compile() catches its own internal `throw new Error`, so none escapes.
      if (file !== 'codec/schema-json-compiler.ts') expect(text, file).not.toMatch(/new Error\(/);
    }
  });
});

const int32 = { kind: 'scalar', scalar: 'int32' } as const;
const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Errs',
  package: 'errs',
  methods: [
    { name: 'put', request: 'Node', response: 'Node' },
    { name: 'count', request: 'CountRequest', response: 'CountRequest', requestWrapped: true, responseWrapped: true },
  ],
  messages: [
    { name: 'Node', fields: [{ name: 'n', no: 1, type: int32 }, { name: 'children', no: 2, type: { kind: 'list', element: { kind: 'message', name: 'Node' } } }] },
    { name: 'CountRequest', fields: [{ name: 'value', no: 1, type: int32 }] },
  ],
  enums: [],
  events: [{ topic: 'nodes.added', message: 'Node' }, { topic: 'counts.added', message: 'CountRequest', wrapped: true }],
};

/** The error `run` throws. */
function thrown(run: () => unknown): RpcError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  }
  throw new Error('expected an error');
}

const same = (error: RpcError, expected: RpcError): void => {
  expect({ code: error.code, message: error.message, details: error.details }).toEqual({ code: expected.code, message: expected.message, details: expected.details });
};

describe.each([
  ['protobufCodec', protobufCodec],
  ['schemaJsonCodec', schemaJsonCodec],
] as const)('%s: schema errors', (name, make) => {
  it('refuses a schema of another format version, and a service given twice', () => {
    same(thrown(() => make([{ ...schema, schemaVersion: 2 as 1 }])), errors.schemaVersionUnsupported(name, 'Errs', 2, 1));
    expect(thrown(() => make([{ ...schema, schemaVersion: 2 as 1 }])).message).toBe(`${name}: the schema of Errs has format version 2, this @svc/core reads 1; regenerate it with the svc-gen of this version`);
    same(thrown(() => make([schema, schema])), errors.duplicateSchema(name, 'Errs'));
    expect(errors.duplicateSchema(name, 'Errs').code).toBe('INVALID_ARGUMENT');
  });

  it('says a broken schema is one to regenerate (INTERNAL): a missing message or enum, a nested list', () => {
    const broken: ServiceSchema = {
      ...schema,
      methods: [{ name: 'a', request: 'Gone', response: null }, { name: 'b', request: 'E', response: null }, { name: 'c', request: 'L', response: null }],
      messages: [
        { name: 'E', fields: [{ name: 'e', no: 1, type: { kind: 'enum', name: 'NoEnum' } }] },
        { name: 'L', fields: [{ name: 'l', no: 1, type: { kind: 'list', element: { kind: 'list', element: int32 } } }] },
      ],
      events: [],
    };
    const codec = make([broken]);
    same(thrown(() => codec.forMethod('Errs', 'a')!.encodeRequest({})), errors.schemaTypeMissing('Errs', 'message', 'Gone'));
    expect(errors.schemaTypeMissing('Errs', 'message', 'Gone')).toMatchObject({ code: 'INTERNAL', message: 'the schema of Errs has no message Gone; regenerate it with svc-gen' });
    same(thrown(() => codec.forMethod('Errs', 'b')!.encodeRequest({ e: 'x' })), errors.schemaTypeMissing('Errs', 'enum', 'NoEnum'));
    // Asked again, it fails again: nothing half-compiled was kept (it encoded nothing, silently).
    same(thrown(() => codec.forMethod('Errs', 'b')!.encodeRequest({ e: 'x' })), errors.schemaTypeMissing('Errs', 'enum', 'NoEnum'));
    same(thrown(() => codec.forMethod('Errs', 'a')!.encodeRequest({})), errors.schemaTypeMissing('Errs', 'message', 'Gone'));
    same(thrown(() => codec.forMethod('Errs', 'c')!.encodeRequest({ l: [[1]] })), errors.schemaCollectionNested('Errs', 'list'));
    same(thrown(() => toProtobufJson(broken)), errors.schemaCollectionNested('Errs', 'list'));
  });
});

describe('schema violations keep their messages and details.field', () => {
  const pb = protobufCodec([schema]);
  const json = schemaJsonCodec([schema]);

  it('a method: the label, the path; a wrapped value is said without `.value`, its field keeps it', () => {
    const put = pb.forMethod('Errs', 'put')!;
    same(thrown(() => put.encodeRequest({ n: 'x', children: [] })), errors.schemaViolation('request', 'request.n', 'expected an integer from -2147483648 to 2147483647 (int32), got "x"', 'Errs.put'));
    expect(thrown(() => put.encodeResponse({ n: 1, children: [{ n: 1.5, children: [] }] }))).toMatchObject({ code: 'INTERNAL', message: 'Errs.put: response.children[0].n expected an integer from -2147483648 to 2147483647 (int32), got 1.5', details: { field: 'response.children[0].n' } });
    const count = pb.forMethod('Errs', 'count')!;
    expect(thrown(() => count.encodeRequest('7'))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'Errs.count: request expected an integer from -2147483648 to 2147483647 (int32), got "7"', details: { field: 'request.value' } });
    // JSON decodes say the label; JSON encodes never did.
    expect(thrown(() => json.forMethod('Errs', 'count')!.decodeRequest(Buffer.from('"7"')))).toMatchObject({ message: 'Errs.count: request expected an integer from -2147483648 to 2147483647 (int32), got "7"', details: { field: 'request.value' } });
    expect(thrown(() => json.forMethod('Errs', 'count')!.encodeRequest('7'))).toMatchObject({ message: 'request.value expected an integer from -2147483648 to 2147483647 (int32), got "7"', details: { field: 'request.value' } });
  });

  it.each([['protobuf', pb], ['schema JSON', json]] as const)('an event payload in %s: `payload`, in the message and the field', (_name, codec) => {
    expect(thrown(() => codec.forEvent('nodes.added')!.encode({ n: 'x', children: [] }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: `event 'nodes.added': payload.n expected an integer from -2147483648 to 2147483647 (int32), got "x"`, details: { field: 'payload.n' } });
    expect(thrown(() => codec.forEvent('counts.added')!.encode('7'))).toMatchObject({ message: `event 'counts.added': payload expected an integer from -2147483648 to 2147483647 (int32), got "7"`, details: { field: 'payload' } });
  });

  it('a message field named `value` that is not a wrapper keeps `.value` in the message', () => {
    const plain: ServiceSchema = { ...schema, methods: [{ name: 'v', request: 'V', response: null }], messages: [{ name: 'V', fields: [{ name: 'value', no: 1, type: int32 }] }], events: [] };
    expect(thrown(() => protobufCodec([plain]).forMethod('Errs', 'v')!.encodeRequest({ value: 'x' })).message).toBe('Errs.v: request.value expected an integer from -2147483648 to 2147483647 (int32), got "x"');
  });
});

describe('bodies that do not decode, values that do not encode', () => {
  const pb = protobufCodec([schema]);
  const json = schemaJsonCodec([schema]);
  const cycle = (): unknown => {
    const node: { n: number; children: unknown[] } = { n: 1, children: [] };
    node.children.push(node);
    return node;
  };

  it('a value that refers to itself: valueTooDeep, INVALID_ARGUMENT for a request, INTERNAL for a response', () => {
    for (const codec of [pb, json]) {
      const put = codec.forMethod('Errs', 'put')!;
      expect(thrown(() => put.encodeRequest(cycle()))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^Errs\.put: the request is nested too deeply or refers to itself \(a cycle\): /) });
      expect(thrown(() => put.encodeResponse(cycle()))).toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/^Errs\.put: the response is nested too deeply/) });
      expect(thrown(() => codec.forEvent('nodes.added')!.encode(cycle())).message).toMatch(/^event 'nodes\.added': the payload is nested too deeply/);
    }
  });

  it('a truncated protobuf body: undecodableProtobuf', () => {
    const put = pb.forMethod('Errs', 'put')!;
    const truncated = put.encodeRequest({ n: 1, children: [{ n: 2, children: [] }] }).subarray(0, 3);
    const error = thrown(() => put.decodeRequest(truncated));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^Errs\.put: the request body is not a valid protobuf Node \(index out of range: .*\); do both sides use the same generated schema\?$/);
    expect(thrown(() => put.decodeResponse(truncated)).code).toBe('INTERNAL');
    expect(thrown(() => pb.forEvent('nodes.added')!.decode(truncated)).message).toMatch(/^event 'nodes\.added': the payload body is not a valid protobuf Node/);
  });

  it('a schema JSON body that is not JSON, or nests deeper than the stack', () => {
    const put = json.forMethod('Errs', 'put')!;
    const error = thrown(() => put.decodeRequest(Buffer.from('{"n":')));
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^Errs\.put: the request body is not valid JSON \(/) });
    expect(thrown(() => put.decodeResponse(Buffer.from('{'))).code).toBe('INTERNAL');
    expect(thrown(() => json.forEvent('nodes.added')!.decode(Buffer.from('nope'))).message).toMatch(/^event 'nodes\.added': the payload body is not valid JSON/);
    const deep = `${'{"n":1,"children":['.repeat(100_000)}${']}'.repeat(100_000)}`;
    expect(thrown(() => put.decodeRequest(Buffer.from(deep)))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^Errs\.put: the request is nested too deeply/) });
  });
});
