import { errors } from '@svc/core/transport';

/** Where to listen or dial: a host and port, or a unix socket path; TLS or not. */
export interface SocketAddress {
  readonly secure: boolean;
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
}

/**
 * Parses 'tcp://127.0.0.1:8972', 'tcp://[::1]:0', 'tls://example.org:443', 'unix:///run/x.sock'
 * and bare 'host:port' (TCP).
 */
export function parseAddress(address: string): SocketAddress {
  const i = address.indexOf('://');
  const scheme = i < 0 ? 'tcp' : address.slice(0, i);
  const rest = i < 0 ? address : address.slice(i + 3);
  if (scheme === 'unix') {
    if (!rest) throw errors.invalidAddress(address, 'has no socket path; write unix:///path/to/socket');
    return { secure: false, path: rest };
  }
  if (scheme !== 'tcp' && scheme !== 'tls') {
    throw errors.invalidAddress(address, `has the scheme '${scheme}', which is not tcp, tls or unix`);
  }
  const match = /^(?:\[([^\]]+)\]|([^:/]+)):(\d+)$/.exec(rest);
  if (!match) throw errors.invalidAddress(address, 'is not host:port (IPv6 in brackets: tcp://[::1]:8972)');
  const port = Number(match[3]);
  if (port > 65535) throw errors.invalidAddress(address, `has the port ${port}, out of range (0 to 65535)`);
  return { secure: scheme === 'tls', host: match[1] ?? match[2]!, port };
}

export function formatAddress(address: SocketAddress): string {
  if (address.path !== undefined) return `unix://${address.path}`;
  const host = address.host!.includes(':') ? `[${address.host}]` : address.host;
  return `${address.secure ? 'tls' : 'tcp'}://${host}:${address.port}`;
}
