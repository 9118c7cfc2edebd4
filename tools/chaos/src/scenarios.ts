/**
 * The chaos scenarios. Servers run as separate processes; the client and its load run here.
 * The client keeps the default fail mode, failfast, so with several TCP servers round robin keeps
 * sending a share of the calls to the faulty one: those that a handler may have run are expected
 * to fail, clearly and in time. (The fail modes that hide such failures are tested in
 * fail-modes.ts.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, staticRegistry } from '@svc/core';
import { ChildHandle } from './launcher.js';
import { NatsServer } from './nats-server.js';
import { runScenario, type ScenarioResult } from './scenario.js';
import { makeTransport, type TransportName, type TransportTweaks } from './transports.js';

function startServer(transport: TransportName, address: string, name: string): Promise<ChildHandle> {
  return ChildHandle.launch('server-process', [transport, address], { name });
}

function clientFor(transport: TransportName, addresses: readonly string[], tweaks?: TransportTweaks): Client {
  return new Client({ transport: makeTransport(transport, tweaks), registry: staticRegistry({ Echo: addresses }) });
}

/**
 * The servers go first (kill -9, which also ends a SIGSTOPped one), then the client is closed
 * while it is trying to reconnect: close() must stop that too, which the leftover-handles check
 * of each scenario then sees.
 */
async function closeWhileReconnecting(client: Client, kills: readonly (() => Promise<void>)[]): Promise<void> {
  await Promise.all(kills.map((kill) => kill()));
  await sleep(300);
  await client.close();
}

async function threeTcpServers(): Promise<ChildHandle[]> {
  return Promise.all([0, 1, 2].map((i) => startServer('tcp', 'tcp://127.0.0.1:0', `tcp server ${i}`)));
}

/** a. kill -9 one of three TCP servers mid-traffic; 2 s later start it again on the same port. */
export async function tcpKill(): Promise<ScenarioResult> {
  const servers = await threeTcpServers();
  const client = clientFor('tcp', servers.map((s) => s.address));
  try {
    return await runScenario('TCP: kill -9 1 of 3 servers, restart after 2 s', client, async (marks) => {
      marks.fault();
      await servers[1]!.kill();
      await sleep(2_000);
      servers[1] = await startServer('tcp', servers[1]!.address, 'tcp server 1, restarted');
      marks.repaired();
    });
  } finally {
    await closeWhileReconnecting(client, servers.map((s) => () => s.kill()));
  }
}

/** b. SIGSTOP one of three TCP servers for 3 s (shorter than the heartbeat timeout), then SIGCONT. */
export async function tcpPause(): Promise<ScenarioResult> {
  const servers = await threeTcpServers();
  const client = clientFor('tcp', servers.map((s) => s.address));
  try {
    return await runScenario('TCP: SIGSTOP 1 of 3 servers for 3 s', client, async (marks) => {
      marks.fault();
      servers[1]!.signal('SIGSTOP');
      await sleep(3_000);
      servers[1]!.signal('SIGCONT');
      marks.repaired();
    });
  } finally {
    await closeWhileReconnecting(client, servers.map((s) => () => s.kill()));
  }
}

/**
 * b2. SIGSTOP one of three TCP servers for 4 s, longer than the client's heartbeat timeout
 * (1.5 s here): the client drops the connection and its calls, and redials a process that does
 * not run (the kernel still accepts the connection).
 */
export async function tcpLongPause(): Promise<ScenarioResult> {
  const servers = await threeTcpServers();
  const client = clientFor('tcp', servers.map((s) => s.address), { heartbeat: { interval: 500, timeout: 1_500 } });
  try {
    return await runScenario('TCP: SIGSTOP 1 of 3 for 4 s > heartbeat 1.5 s', client, async (marks) => {
      marks.fault();
      servers[1]!.signal('SIGSTOP');
      await sleep(4_000);
      servers[1]!.signal('SIGCONT');
      marks.repaired();
    });
  } finally {
    await closeWhileReconnecting(client, servers.map((s) => () => s.kill()));
  }
}

/** e. SIGTERM one of three TCP servers (GOAWAY and drain), start it again on its port once it has exited. */
export async function tcpGracefulRestart(): Promise<ScenarioResult> {
  const servers = await threeTcpServers();
  const client = clientFor('tcp', servers.map((s) => s.address));
  try {
    return await runScenario('TCP: SIGTERM 1 of 3 servers, restart it', client, async (marks) => {
      marks.fault();
      await servers[1]!.stop('SIGTERM');
      servers[1] = await startServer('tcp', servers[1]!.address, 'tcp server 1, restarted');
      marks.repaired();
    });
  } finally {
    await closeWhileReconnecting(client, servers.map((s) => () => s.kill()));
  }
}

/** Two Echo services over a nats-server of our own, and a client over it. */
async function natsSetup(): Promise<{ natsd: NatsServer; services: ChildHandle[]; client: Client }> {
  const natsd = await NatsServer.start();
  const services = await Promise.all([0, 1].map((i) => startServer('nats', natsd.url, `nats service ${i}`)));
  return { natsd, services, client: clientFor('nats', [natsd.url]) };
}

async function natsTeardown({ natsd, services, client }: { natsd: NatsServer; services: ChildHandle[]; client: Client }): Promise<void> {
  await closeWhileReconnecting(client, [...services.map((s) => () => s.kill()), () => natsd.kill()]);
}

/** c. kill -9 the nats-server mid-traffic; 1 s later start a new one on the same port. */
export async function natsRestart(): Promise<ScenarioResult> {
  const setup = await natsSetup();
  try {
    return await runScenario('NATS: kill -9 nats-server, new one after 1 s', setup.client, async (marks) => {
      marks.fault();
      await setup.natsd.kill();
      await sleep(1_000);
      await setup.natsd.start();
      marks.repaired();
    });
  } finally {
    await natsTeardown(setup);
  }
}

/** d. kill -9 one of two NATS service processes; the queue group sends the rest to the other. */
export async function natsServiceKill(): Promise<ScenarioResult> {
  const setup = await natsSetup();
  try {
    return await runScenario('NATS: kill -9 1 of 2 services', setup.client, async (marks) => {
      marks.fault();
      await setup.services[1]!.kill();
      // Nothing to repair: the survivor takes the traffic. Recovery counts from the kill.
      marks.repaired();
    });
  } finally {
    await natsTeardown(setup);
  }
}
