import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ChainFaasStack } from '../../lib/chainfaas-stack';
import type { ChainFaasConfig } from '../../lib/config';
import { projectRoot } from '../../lib/project-root';
import { ENV } from '../../lambdas/handlers/manifest';

/** A fixed Ed25519 public key, so templates (and the snapshot) do not change between runs. */
export const TEST_PUBLIC_KEY = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA7Mbw70HNTBtRLxezbfBrsxY72TUHn03iIbvpOgcN7aE=\n-----END PUBLIC KEY-----\n';

/** A pinned Amazon Linux 2023 image id for the Fabric node (the value is never launched). */
export const TEST_IMAGE_ID = 'ami-0123456789abcdef0';

/** The context cdk.json gives the CLI (feature flags), so tests synthesise what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(projectRoot(), 'cdk.json'), 'utf8')).context ?? {};
}

export interface TestAppOptions {
  /**
   * Run esbuild on every Lambda. Off by default: the construct, IAM and nag tests do not depend on
   * the handlers' code, and skipping bundling makes them fast; bundling.test.ts bundles for real.
   */
  readonly bundle?: boolean;
  readonly context?: Record<string, unknown>;
}

/** An App like the CLI's, writing its assembly to a fresh temporary directory. */
export function testApp(options: TestAppOptions = {}): App {
  return new App({
    outdir: mkdtempSync(join(tmpdir(), 'chainfaas-cdk-')),
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...options.context },
  });
}

/** A bare stack for testing one construct. */
export function testStack(options: TestAppOptions = {}): Stack {
  return new Stack(testApp(options), 'Test');
}

export interface SynthesisedStack {
  readonly app: App;
  readonly stack: ChainFaasStack;
  readonly template: Template;
}

/** The whole controller stack, synthesised once; call it from `beforeAll`. */
export function synthControllerStack(config: Partial<ChainFaasConfig> = {}, options: TestAppOptions = {}): SynthesisedStack {
  const app = testApp(options);
  const stack = new ChainFaasStack(app, 'ChainFaas-test', { config: { controllerPublicKey: TEST_PUBLIC_KEY, fabricImageId: TEST_IMAGE_ID, ...config } });
  return { app, stack, template: Template.fromStack(stack) };
}

/** A CloudFormation policy statement, as found in a synthesised template. */
export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Sid?: string;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** Logical id of the single resource of `type` under the construct path `path`. */
export function logicalIdOf(template: Template, stack: Stack, type: string, pathPrefix: string): string {
  const found = Object.entries(template.findResources(type)).filter(([, r]) =>
    String(r.Metadata?.['aws:cdk:path'] ?? '').startsWith(`${stack.stackName}/${pathPrefix}`),
  );
  if (found.length !== 1) throw new Error(`expected one ${type} under ${pathPrefix}, found ${found.length}`);
  return found[0][0];
}

/** Every policy statement attached (inline or through AWS::IAM::Policy) to the role with logical id `roleId`. */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  const out: Statement[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles = (policy.Properties.Roles ?? []) as { Ref?: string }[];
    if (roles.some((r) => r.Ref === roleId)) out.push(...(policy.Properties.PolicyDocument.Statement as Statement[]));
  }
  const role = template.toJSON().Resources[roleId];
  for (const inline of role?.Properties?.Policies ?? []) out.push(...(inline.PolicyDocument.Statement as Statement[]));
  return out;
}

/** The logical ids a CloudFormation value refers to (Ref / Fn::GetAtt), found anywhere inside it. */
export function referencedIds(value: unknown): Set<string> {
  const ids = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) {
        if (k === 'Ref' && typeof inner === 'string') ids.add(inner);
        else if (k === 'Fn::GetAtt' && Array.isArray(inner)) ids.add(String(inner[0]));
        else walk(inner);
      }
    }
  };
  walk(value);
  return ids;
}

/** Replaces asset hashes (64 hex digits) so a snapshot does not change with the bundles' contents. */
export function normaliseAssetHashes<T>(template: T): T {
  return JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}/g, '[ASSET-HASH]')) as T;
}

/** Every environment variable name the manifest's ENV lists (flattened), plus the runtime's own NODE_OPTIONS. */
export function manifestEnvNames(): Set<string> {
  const names = new Set<string>(['NODE_OPTIONS']);
  const walk = (v: unknown): void => {
    if (typeof v === 'string') names.add(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(ENV);
  return names;
}

/** Names of the environment variables of every Lambda in a template that the manifest does not list. */
export function unlistedEnvNames(template: Template): string[] {
  const listed = manifestEnvNames();
  const out = new Set<string>();
  for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
    for (const name of Object.keys(fn.Properties.Environment?.Variables ?? {})) if (!listed.has(name)) out.add(name);
  }
  return [...out].sort();
}
