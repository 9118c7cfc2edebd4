/** `server.address` and `server.port` of an address as a registry or a caller gives it. */
export interface ServerAddress {
  readonly address: string;
  readonly port: number | undefined;
}

const HOST_PORT = /^(\[[^\]]*\]|[^:/?,[\]]+):(\d{1,5})(?:[/?].*)?$/;

/**
 * Splits 'tcp://10.0.0.5:8972', '10.0.0.5:8972', 'tls://[::1]:8972' or 'nats://host:4222?instance=x'
 * into host and port, and 'unix:///run/svc.sock' into its path. Anything else (several servers,
 * 'inproc://name') is kept whole with no port, as the gRPC conventions do for such targets.
 */
export function parseServerAddress(target: string): ServerAddress {
  const scheme = target.indexOf('://');
  const rest = scheme >= 0 ? target.slice(scheme + 3) : target;
  if (scheme >= 0 && target.startsWith('unix')) return { address: rest, port: undefined };
  const match = HOST_PORT.exec(rest);
  if (match === null) return { address: target, port: undefined };
  const host = match[1]!;
  return { address: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(match[2]) };
}
