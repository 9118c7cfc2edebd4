import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { RpcError } from '@svc/core';

export interface PrometheusOptions {
  /** Default OTEL_EXPORTER_PROMETHEUS_PORT, else 9464 (Prometheus's registered port for OpenTelemetry). 0: any free port. */
  port?: number;
  /** Default OTEL_EXPORTER_PROMETHEUS_HOST, else every interface ('0.0.0.0'), for a scraper on another host. */
  host?: string;
  /** Default '/metrics'. */
  endpoint?: string;
}

/**
 * A Prometheus scrape endpoint: the exporter's reader, served by an HTTP server of our own so that
 * port 0 works, the bound URL is known, and a port in use is an error at start, not a log line.
 */
export class PrometheusEndpoint {
  readonly reader: PrometheusExporter;
  readonly url: string;
  private readonly server: Server;

  private constructor(reader: PrometheusExporter, server: Server, url: string) {
    this.reader = reader;
    this.server = server;
    this.url = url;
  }

  static async start(options: PrometheusOptions): Promise<PrometheusEndpoint> {
    const envPort = process.env.OTEL_EXPORTER_PROMETHEUS_PORT;
    const port = options.port ?? (envPort !== undefined && envPort !== '' ? Number(envPort) : 9464);
    const host = options.host ?? (process.env.OTEL_EXPORTER_PROMETHEUS_HOST || '0.0.0.0');
    const endpoint = (options.endpoint ?? '/metrics').replace(/^([^/])/, '/$1');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RpcError('INVALID_ARGUMENT', `the Prometheus port must be an integer from 0 to 65535, got ${String(port)}`);
    const reader = new PrometheusExporter({ preventServerStart: true });
    const server = createServer((request, response) => {
      if (request.method === 'GET' && (request.url ?? '').split('?')[0] === endpoint) return reader.getMetricsRequestHandler(request, response);
      response.statusCode = 404;
      response.end(`metrics are at ${endpoint}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new RpcError('UNAVAILABLE', `the Prometheus endpoint cannot listen on ${host}:${port}: ${error.message}`, { cause: error })));
      server.listen(port, host, () => resolve());
    });
    // Scrapes alone must not keep a process alive that has nothing else to do.
    server.unref();
    const bound = (server.address() as AddressInfo).port;
    const shown = host.includes(':') ? `[${host}]` : host;
    return new PrometheusEndpoint(reader, server, `http://${shown}:${bound}${endpoint}`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
