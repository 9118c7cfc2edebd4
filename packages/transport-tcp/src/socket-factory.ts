import * as net from 'node:net';
import * as tls from 'node:tls';
import { errors } from '@svc/core/transport';
import type { SocketAddress } from './address.js';
import type { ResolvedTcpOptions } from './tcp-options.js';

/** Dials a TCP, TLS or unix socket; resolves once it is ready for frames (after the TLS handshake). */
export function dial(address: SocketAddress, options: ResolvedTcpOptions): { socket: net.Socket; ready: Promise<void> } {
  let socket: net.Socket;
  let readyEvent: string;
  if (address.secure) {
    socket = tls.connect({ ...options.tls.client, host: address.host, port: address.port, servername: options.tls.client?.servername ?? (net.isIP(address.host!) ? undefined : address.host) });
    readyEvent = 'secureConnect';
  } else if (address.path !== undefined) {
    socket = net.connect({ path: address.path });
    readyEvent = 'connect';
  } else {
    socket = net.connect({ host: address.host, port: address.port! });
    readyEvent = 'connect';
  }
  const ready = new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    socket.once('error', onError);
    socket.once(readyEvent, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return { socket, ready };
}

/** A server socket for TCP, TLS or unix addresses. */
export function createSocketServer(address: SocketAddress, options: ResolvedTcpOptions, onSocket: (socket: net.Socket) => void): net.Server {
  if (address.secure) {
    if (!options.tls.server) throw errors.invalidTransportOption('listening on a tls:// address needs tcp({ tls: { server: { key, cert } } })');
    return tls.createServer(options.tls.server, onSocket);
  }
  return net.createServer(onSocket);
}
