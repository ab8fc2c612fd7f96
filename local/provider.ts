import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ProviderAgent } from '../provider-agent/src/agent';
import { ControllerClient } from '../provider-agent/src/controller-client';
import { createProviderKeys } from '../provider-agent/src/keys';
import { jsonLogger, LogLevel } from '../provider-agent/src/log';

/**
 * The local platform's provider: a provider account registered through the public API, exactly
 * as a volunteer would (`chainfaas-provider register`), and one ProviderAgent in this process,
 * connected to the local Docker engine and long-polling its own queue.
 */
export interface LocalProvider {
  providerId: string;
  queueUrl: string;
  token: string;
  agent: ProviderAgent;
  stop(): Promise<void>;
}

export interface LocalProviderOptions {
  apiUrl: string;
  dataDir: string;
  /** What the provider offers. @default half the machine's cores (at least 1) and a quarter of its memory (at most 4 GiB) */
  capacity?: { vcpu: number; memoryMb: number };
  logLevel?: LogLevel;
}

export async function startLocalProvider(options: LocalProviderOptions): Promise<LocalProvider> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const email = `provider-${Date.now()}@local.chainfaas`;
  const res = await fetch(`${options.apiUrl}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: `local-${Math.random().toString(36).slice(2)}-pw`, roles: ['provider'] }),
  });
  const body = (await res.json()) as { token?: string; error?: { message: string } };
  if (res.status !== 201 || !body.token) throw new Error(`could not register the local provider account: ${body.error?.message ?? res.status}`);
  const token = body.token;

  const capacity = options.capacity ?? {
    vcpu: Math.max(1, Math.floor(cpus().length / 2)),
    memoryMb: Math.min(4096, Math.floor(totalmem() / 1024 / 1024 / 4)),
  };
  const keys = createProviderKeys(options.dataDir, true);
  const registration = await new ControllerClient(options.apiUrl, token).register({ name: 'local-provider', capacity, publicKey: keys.publicKeyPem });
  const agent = new ProviderAgent(
    {
      apiUrl: options.apiUrl,
      token,
      registration,
      privateKeyPem: keys.privateKeyPem,
      capacity,
      pollWaitS: 2,
      statusFile: join(options.dataDir, 'status.json'),
    },
    { logger: jsonLogger(options.logLevel ?? 'warn') },
  );
  await agent.start();
  return { providerId: registration.providerId, queueUrl: registration.queueUrl, token, agent, stop: () => agent.stop() };
}
