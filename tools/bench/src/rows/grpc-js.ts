/** grpc-js unary calls over one HTTP/2 channel, the message as protobuf (proto/echo.proto). */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_PATH, type EchoMessage } from '../message.js';
import type { RowImpl } from '../row.js';

interface EchoClient extends grpc.Client {
  echo(request: EchoMessage, callback: (error: grpc.ServiceError | null, reply?: EchoMessage) => void): grpc.ClientUnaryCall;
}

function loadEcho(): grpc.ServiceClientConstructor {
  // keepCase: the field names stay those of EchoMessage, so replies compare as they are.
  const definition = protoLoader.loadSync(PROTO_PATH, { keepCase: true, defaults: false, arrays: true });
  const bench = grpc.loadPackageDefinition(definition)['bench'] as grpc.GrpcObject;
  return bench['Echo'] as grpc.ServiceClientConstructor;
}

export const row: RowImpl = {
  async server(env) {
    const Echo = loadEcho();
    const server = new grpc.Server();
    server.addService(Echo.service, {
      echo: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => callback(null, call.request),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${env.host}:0`, grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
    );
    return {
      address: `${env.host}:${port}`,
      close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    };
  },

  async client(env) {
    const Echo = loadEcho();
    const client = new Echo(env.address, grpc.credentials.createInsecure()) as unknown as EchoClient;
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
    return {
      call: (message) =>
        new Promise((resolve, reject) => {
          client.echo(message, (error, reply) => (error ? reject(error) : resolve(reply)));
        }),
      async close() {
        client.close();
      },
    };
  },
};
