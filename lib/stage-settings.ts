import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { configFromContext, type ChainFaasConfig } from './config';
import { projectRoot } from './project-root';

/**
 * Settings whose change deletes or replaces the ledger's resources (the Fabric node, its volume,
 * its VPC, the identity) or their protection. A stage file that sets one of them cannot be
 * overridden from the command line unless `allowLedgerReplacement` is true.
 */
export const LEDGER_KEYS = ['fabric', 'fabricImageId', 'fabricVolumeGiB', 'fabricOrderers', 'fabricPeerEndpoint', 'fabricIdentitySecretArn', 'retainData'] as const;

/** Keys of a stage file that are not controller settings: where the stack goes. */
const ENV_KEYS = ['account', 'region'] as const;

/** A stage file's contents: ChainFaasConfig keys (as JSON values), plus `account` and `region`. */
export type StageSettings = Readonly<Record<string, unknown>>;

/** The directory of the checked-in stage files. */
export const stagesDir = (): string => join(projectRoot(), 'stages');

/** Reads `stages/<stage>.json`; a missing file is an error (a typo in the stage must not make a new stack). */
export function readStageSettings(stage: string, dir = stagesDir()): StageSettings {
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(stage)) throw new Error(`stage ${JSON.stringify(stage)} is invalid: lower-case letters, digits and dashes, at most 16`);
  const file = join(dir, `${stage}.json`);
  if (!existsSync(file)) throw new Error(`no settings for stage ${stage}: create stages/${stage}.json (README, "Deploy to AWS") and commit it`);
  const settings: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!settings || typeof settings !== 'object' || Array.isArray(settings)) throw new Error(`stages/${stage}.json must hold a JSON object`);
  const record = settings as Record<string, unknown>;
  if (record.stage !== undefined && record.stage !== stage) throw new Error(`stages/${stage}.json says stage ${JSON.stringify(record.stage)}`);
  return record;
}

/**
 * Refuses context that contradicts the stage file on a ledger key: such a deploy would delete or
 * replace the ledger (`-c fabric=none` over a file saying `ec2` plans the node's deletion). The
 * explicit `allowLedgerReplacement=true` lets it through.
 */
export function checkLedgerOverrides(settings: StageSettings, context: (key: string) => unknown, stage: string): void {
  const allow = context('allowLedgerReplacement');
  if (allow === true || allow === 'true') return;
  for (const key of LEDGER_KEYS) {
    const given = context(key);
    if (given === undefined || settings[key] === undefined) continue;
    if (String(given) !== String(settings[key])) {
      throw new Error(
        `-c ${key}=${String(given)} contradicts stages/${stage}.json (${key}: ${JSON.stringify(settings[key])}); ` +
          'this deploy could delete or replace the ledger. Change the stage file, or add -c allowLedgerReplacement=true if that is what you mean.',
      );
    }
  }
}

export interface StageConfig {
  readonly config: ChainFaasConfig;
  /** `account` and `region` from the stage file, when it names them. */
  readonly env?: Environment;
}

/**
 * The configuration a plain `cdk deploy` uses: the stage (`-c stage=...`, else `dev`), its
 * checked-in settings file, then any context on top of it (ledger keys excepted, see above).
 */
export function stageConfig(scope: Construct, dir = stagesDir()): StageConfig {
  const ctx = (key: string): unknown => scope.node.tryGetContext(key);
  const stage = String(ctx('stage') ?? 'dev');
  const settings = readStageSettings(stage, dir);
  checkLedgerOverrides(settings, ctx, stage);
  const [account, region] = ENV_KEYS.map((key) => {
    const value = ctx(key) ?? settings[key];
    if (value !== undefined && typeof value !== 'string') throw new Error(`stages/${stage}.json: ${key} must be a string`);
    return value as string | undefined;
  });
  const config = configFromContext(scope, { ...settings, stage });
  return { config, env: account || region ? { account, region } : undefined };
}
