import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/project-root';
import { cfnLint, checkov, IAC_VENV, RAFT_SCAN, synthAssembly, type Finding } from './iac-scan';

/**
 * cfn-lint and checkov (pinned, installed by local/setup.sh) over the synthesised template (and the
 * one with `fabricOrderers: 3`), as an outside reviewer would run them over cdk.out. Every finding is explained in
 * test/cdk/static-analysis-findings.json (false positives and accepted choices, each with its
 * reason); a new finding fails this test until it is fixed or explained there.
 */
interface Explanation {
  tool: Finding['tool'];
  rule: string;
  resources: string;
  verdict: 'false positive' | 'accepted';
  reason: string;
}

const explanations = (
  JSON.parse(readFileSync(join(projectRoot(), 'test/cdk/static-analysis-findings.json'), 'utf8')) as { findings: Explanation[] }
).findings;
const explains = (e: Explanation, f: Finding): boolean => e.tool === f.tool && e.rule === f.rule && new RegExp(e.resources).test(f.resource);

describe('cfn-lint and checkov over the synthesised template', () => {
  let findings: Finding[];
  beforeAll(() => {
    if (!existsSync(join(IAC_VENV, 'bin', 'checkov'))) throw new Error(`cfn-lint and checkov are not installed in ${IAC_VENV}: run local/setup.sh`);
    // Everything on, and again with three Raft orderers (their hosts, zone, secrets, three AZs).
    const templates = [synthAssembly(), synthAssembly(RAFT_SCAN.config, RAFT_SCAN)];
    findings = templates.flatMap((template) => [...cfnLint(template), ...checkov(template)]);
  }, 600_000);

  test('every explanation has a verdict and a reason', () => {
    for (const e of explanations) {
      expect(['false positive', 'accepted']).toContain(e.verdict);
      expect(e.reason.length).toBeGreaterThan(40);
    }
  });

  test('no error from cfn-lint', () => {
    expect(findings.filter((f) => f.tool === 'cfn-lint' && f.rule.startsWith('E'))).toEqual([]);
  });

  test('every finding is explained', () => {
    const unexplained = findings.filter((f) => !explanations.some((e) => explains(e, f)));
    expect(unexplained.map((f) => `${f.tool} ${f.rule} ${f.resource}: ${f.message}`)).toEqual([]);
  });

  test('every explanation still explains something (no stale acknowledgement)', () => {
    const stale = explanations.filter((e) => !findings.some((f) => explains(e, f)));
    expect(stale.map((e) => `${e.tool} ${e.rule} ${e.resources}`)).toEqual([]);
  });

  test('IAM: no write action on every resource (the unscoped CloudFront invalidation is gone)', () => {
    // CKV_AWS_111: write access without constraints; CKV_AWS_356: a policy statement on "*" that could be scoped.
    expect(findings.filter((f) => ['CKV_AWS_111', 'CKV_AWS_356', 'CKV_AWS_107', 'CKV_AWS_108'].includes(f.rule))).toEqual([]);
  });
});
