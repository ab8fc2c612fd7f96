import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ChainFaasStack } from '../../lib/chainfaas-stack';
import type { ChainFaasConfig } from '../../lib/config';
import { TEST_IMAGE_ID, TEST_PUBLIC_KEY, testApp } from './helpers';

/** Where local/setup.sh installs cfn-lint and checkov (pinned), apart from schemathesis's virtualenv. */
export const IAC_VENV = process.env.CHAINFAAS_IAC_VENV ?? join(homedir(), '.cache', 'chainfaas', 'venv-iac');

/** Everything on: what a platform owner deploys at most (Fabric on EC2, the portal, custom domains, an operator, e-mail). */
export const FULL_CONFIG: Partial<ChainFaasConfig> = {
  stage: 'prod',
  fabric: 'ec2',
  fabricImageId: TEST_IMAGE_ID,
  controllerPublicKey: TEST_PUBLIC_KEY,
  portal: true,
  portalDir: 'test/cdk/fixtures/portal',
  apiDomainName: 'api.chainfaas.example',
  apiCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
  portalDomainName: 'chainfaas.example',
  portalCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000',
  operatorUserIds: ['usr_Admin1'],
  alarmEmail: 'ops@chainfaas.example',
};

/** Synthesises the stack into a cloud assembly (as `cdk synth` writes cdk.out) and returns its template's path. */
export function synthAssembly(config: Partial<ChainFaasConfig> = FULL_CONFIG): string {
  const app = testApp();
  new ChainFaasStack(app, 'ChainFaas-prod', { config });
  const dir = app.synth().directory;
  const template = readdirSync(dir).find((f) => f.endsWith('.template.json'));
  if (!template) throw new Error(`no template in ${dir}`);
  return join(dir, template);
}

export interface Finding {
  readonly tool: 'cfn-lint' | 'checkov';
  /** cfn-lint rule id (E3012, W3005, ...) or checkov check id (CKV_AWS_...). */
  readonly rule: string;
  /** The template's logical id. */
  readonly resource: string;
  readonly message: string;
}

/** cfn-lint's findings (all levels, informational included) over one template. */
export function cfnLint(template: string): Finding[] {
  let out: string;
  try {
    out = execFileSync(join(IAC_VENV, 'bin', 'cfn-lint'), ['--format', 'json', '--include-checks', 'I', '--', template], { encoding: 'utf8' });
  } catch (err) {
    // cfn-lint exits non-zero when it finds something; its JSON is still on stdout.
    out = (err as { stdout?: string }).stdout ?? '';
    if (!out.trim().startsWith('[')) throw err;
  }
  return (JSON.parse(out) as { Rule: { Id: string }; Message: string; Location: { Path: (string | number)[] } }[]).map((m) => ({
    tool: 'cfn-lint',
    rule: m.Rule.Id,
    resource: String(m.Location.Path[0] === 'Resources' ? m.Location.Path[1] : m.Location.Path.join('/')),
    message: m.Message,
  }));
}

/** checkov's failed checks over one template (the CloudFormation framework only, no network). */
export function checkov(template: string): Finding[] {
  let out: string;
  try {
    out = execFileSync(
      join(IAC_VENV, 'bin', 'checkov'),
      ['--file', template, '--framework', 'cloudformation', '--output', 'json', '--quiet', '--compact', '--skip-download'],
      { encoding: 'utf8', env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: 'false' }, maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? '';
    if (!out.trim().startsWith('{') && !out.trim().startsWith('[')) throw err;
  }
  const parsed = JSON.parse(out) as unknown;
  const reports = (Array.isArray(parsed) ? parsed : [parsed]) as { results?: { failed_checks?: { check_id: string; resource: string; check_name: string }[] } }[];
  return reports.flatMap((r) =>
    (r.results?.failed_checks ?? []).map((c) => ({ tool: 'checkov' as const, rule: c.check_id, resource: c.resource.split('.').pop() ?? c.resource, message: c.check_name })),
  );
}
