import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

// The part of OTLP's trace protocol (opentelemetry/proto/collector/trace/v1) the tests read,
// written out here so that what the exporter sends is decoded by something other than itself.
const SCHEMA = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`;
const Request = protobuf.parse(SCHEMA, { keepCase: true }).root.lookupType('otlp.ExportTraceServiceRequest');

/** A span as received: ids in hex, attributes as plain values, OTLP's kind numbers (2 server, 3 client). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code: number; message: string };
  scope: string;
  resource: Record<string, unknown>;
}

interface KeyValue {
  key: string;
  value?: { string_value?: string; bool_value?: boolean; int_value?: { toNumber(): number } | number; double_value?: number };
}

function plain(attributes: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) {
    const v = value?.string_value ?? value?.bool_value ?? value?.double_value ?? value?.int_value;
    out[key] = typeof v === 'object' && v !== null ? v.toNumber() : v;
  }
  return out;
}

const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('hex');

/** A small OTLP/HTTP receiver on a free loopback port: it takes POST /v1/traces (protobuf) and keeps the spans. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly contentTypes: string[] = [];
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.method === 'POST' && request.url === '/v1/traces') {
          let body = Buffer.concat(chunks);
          if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          receiver!.contentTypes.push(String(request.headers['content-type']));
          receiver!.take(body);
        }
        response.writeHead(200, { 'content-type': 'application/x-protobuf' });
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return receiver;
  }

  private take(body: Buffer): void {
    const request = Request.toObject(Request.decode(body), { defaults: true }) as {
      resource_spans: { resource?: { attributes: KeyValue[] }; scope_spans: { scope?: { name: string }; spans: Record<string, unknown>[] }[] }[];
    };
    for (const rs of request.resource_spans) {
      const resource = plain(rs.resource?.attributes);
      for (const ss of rs.scope_spans) {
        for (const span of ss.spans) {
          this.spans.push({
            traceId: hex(span.trace_id as Uint8Array),
            spanId: hex(span.span_id as Uint8Array),
            parentSpanId: hex(span.parent_span_id as Uint8Array),
            name: span.name as string,
            kind: span.kind as number,
            attributes: plain(span.attributes as KeyValue[]),
            status: (span.status as { code: number; message: string } | undefined) ?? { code: 0, message: '' },
            scope: ss.scope?.name ?? '',
            resource,
          });
        }
      }
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
