/**
 * What the two NestJS rows share: one module with one @MessagePattern handler. It needs no
 * emitDecoratorMetadata: nothing is injected and the payload decorator carries its own metadata.
 */
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, MessagePattern, Payload, type ClientOptions, type MicroserviceOptions } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import type { EchoMessage } from '../message.js';
import type { ClientHandle, ServerHandle } from '../row.js';

@Controller()
class EchoController {
  @MessagePattern('echo')
  echo(@Payload() message: EchoMessage): EchoMessage {
    return message;
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

export async function nestServer(options: MicroserviceOptions, address: string): Promise<ServerHandle> {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(EchoModule, { ...options, logger: false });
  await app.listen();
  return { address, close: () => app.close() };
}

export async function nestClient(options: ClientOptions): Promise<ClientHandle> {
  const client = ClientProxyFactory.create(options);
  await client.connect();
  return {
    call: (message) => firstValueFrom(client.send<EchoMessage, EchoMessage>('echo', message)),
    close: () => client.close() as Promise<void>,
  };
}
