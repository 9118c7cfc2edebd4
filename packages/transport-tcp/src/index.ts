/// <reference types="node" preserve="true" />
import type { Transport } from '@svc/core';
import { resolveOptions, type TcpTransportOptions } from './tcp-options.js';
import { TcpChannel } from './tcp-channel.js';
import { TcpListener } from './tcp-listener.js';

export type { TcpTransportOptions, HeartbeatOptions, ReconnectOptions } from './tcp-options.js';
export { parseAddress, formatAddress, type SocketAddress } from './address.js';

/**
 * The TCP transport: `tcp://host:port`, `tls://host:port` and `unix:///path` addresses (a bare
 * `host:port` is TCP). Many calls share one connection per address.
 */
export function tcp(options: TcpTransportOptions = {}): Transport {
  const resolved = resolveOptions(options);
  return {
    schemes: ['tcp', 'tls', 'unix'],
    listen: (address, dispatcher) => TcpListener.listen(address, resolved, dispatcher),
    connect: (address) => new TcpChannel(address, resolved),
  };
}
