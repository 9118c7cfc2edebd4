import { inproc, jsonCodec, protobufCodec, randomSelector, roundRobin, schemaJsonCodec, staticRegistry, type ServiceSchema } from '../src/index.js';
import { describeCodecContract, describeRegistryContract, describeSelectorContract, type CodecCase } from '../src/testing/index.js';

describeSelectorContract('roundRobin', roundRobin);
describeSelectorContract('randomSelector', randomSelector);

describeRegistryContract('staticRegistry', async (services) => ({ registry: staticRegistry(services) }));


const schema: ServiceSchema = {
  schemaVersion: 1,
  service: 'Shop',
  package: 'shop',
  methods: [{ name: 'price', request: 'Item', response: 'Price' }],
  messages: [
    { name: 'Item', fields: [{ name: 'sku', no: 1, type: { kind: 'scalar', scalar: 'string' } }, { name: 'count', no: 2, type: { kind: 'scalar', scalar: 'int32' } }] },
    { name: 'Price', fields: [{ name: 'cents', no: 1, type: { kind: 'scalar', scalar: 'int64' } }, { name: 'tags', no: 2, type: { kind: 'list', element: { kind: 'scalar', scalar: 'string' } } }] },
  ],
  enums: [],
};
const cases: CodecCase[] = [{ service: 'Shop', method: 'price', request: { sku: 'a-1 é', count: 3 }, response: { cents: 1234n, tags: ['x', 'y'] } }];

describeCodecContract('jsonCodec', jsonCodec, [{ service: 'Any', method: 'thing', request: { a: [1, 'two', null], b: { c: true } }, response: { ok: 'yes' } }]);
describeCodecContract('protobufCodec', () => protobufCodec({ schemas: [schema] }), cases);
describeCodecContract('schemaJsonCodec', () => schemaJsonCodec({ schemas: [schema] }), cases);
