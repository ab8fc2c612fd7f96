import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildExampleImages } from '../../examples/images';
import { startRegistry } from '../../local/registry';
import { generateKeyPair, JobEnvelope, keyId, KeyPairPem, SignedEnvelope, signPayload } from '../../contract/src';
import { Logger } from '../../provider-agent/src/log';

/** Shared fixtures of the agent tests: a real registry with the example images, signed envelopes. */

export interface ImageRegistry {
  address: string;
  /** Example name → digest-pinned reference in this registry. */
  images: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts a registry on a free port in a temporary directory and pushes the example images to it. */
export async function startImageRegistry(only?: string[]): Promise<ImageRegistry> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chainfaas-test-registry-'));
  const registry = await startRegistry({ dataDir });
  try {
    const images = await buildExampleImages(registry.address, { only });
    return {
      address: registry.address,
      images,
      stop: async () => {
        await registry.stop();
        rmSync(dataDir, { recursive: true, force: true });
        await forgetImagesOf(registry.address);
      },
    };
  } catch (err) {
    await registry.stop();
    throw err;
  }
}

/** Removes every local tag and digest reference into `address`, so test runs leave no clutter behind. */
export async function forgetImagesOf(address: string): Promise<void> {
  const docker = new Docker();
  for (const image of await docker.listImages()) {
    for (const ref of [...(image.RepoTags ?? []), ...(image.RepoDigests ?? [])]) {
      if (ref.startsWith(`${address}/`))
        await docker
          .getImage(ref)
          .remove()
          .catch(() => undefined);
    }
  }
}

/** A logger that keeps records in memory, for assertions and for printing on failure. */
export function memoryLogger(): Logger & { records: Array<{ level: string; message: string } & Record<string, unknown>> } {
  const records: Array<{ level: string; message: string } & Record<string, unknown>> = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      void records.push({ level, message, ...fields });
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The controller's signing key for the tests. */
export const controllerKeys: KeyPairPem = generateKeyPair();
export const controllerKeyId = keyId(controllerKeys.publicKeyPem);

/** A valid job envelope for `image`; fields can be overridden. */
export function makeEnvelope(image: string, overrides: Partial<JobEnvelope> = {}): JobEnvelope {
  const now = Date.now();
  return {
    v: 1,
    jobId: `job-${randomUUID()}`,
    functionId: 'fn-test',
    functionVersion: 1,
    developerId: 'dev-test',
    providerId: 'prov-test',
    image,
    protocol: 'stdio',
    network: 'none',
    resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 20 },
    env: {},
    input: { kind: 'inline', base64: '' },
    resultPutUrl: 'http://127.0.0.1:9/result',
    logPutUrl: 'http://127.0.0.1:9/log',
    issuedAt: new Date(now).toISOString(),
    startBy: new Date(now + 60_000).toISOString(),
    attempt: 1,
    ...overrides,
  };
}

/** The queue message body the controller would send for `envelope`. */
export function signedMessage(envelope: JobEnvelope, keys: KeyPairPem = controllerKeys): string {
  const signed: SignedEnvelope = { envelope, signature: signPayload(envelope, keys.privateKeyPem), keyId: keyId(keys.publicKeyPem) };
  return JSON.stringify(signed);
}

/** Containers on this engine labelled with `chainfaas.agent=<agentId>`, running or not. */
export async function containersOfAgent(agentId: string): Promise<Docker.ContainerInfo[]> {
  return new Docker().listContainers({ all: true, filters: { label: [`chainfaas.agent=${agentId}`] } });
}
