/** The echo service the @svc rows serve: a plain class, as an application would write it. */
import { Method, Service } from '@svc/core';
import type { EchoMessage } from '../message.js';

@Service('Echo')
export class Echo {
  @Method()
  async echo(message: EchoMessage): Promise<EchoMessage> {
    return message;
  }
}
