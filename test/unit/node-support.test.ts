import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_NODE, nodeProblem, PLATFORM_NODE } from '../../contract/src/node-support';

const DAY = new Date('2026-12-04T12:00:00Z');

test("package.json's engines and the platform's check name the same Node", () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { engines: { node: string } };
  expect(pkg.engines.node).toBe(`>=${PLATFORM_NODE.replace(/\.0$/, '')}`);
  expect(nodeProblem('npm start', PLATFORM_NODE, process.versions.node, DAY)).toBeUndefined();
});

test('the platform refuses Node 22 and Node 20, naming the version it needs', () => {
  expect(nodeProblem('npm start', PLATFORM_NODE, '22.20.0', DAY)).toBe(
    'npm start needs Node.js 24.11.0 or newer (a supported release; Node 24 LTS recommended); this is Node.js 22.20.0.',
  );
  expect(nodeProblem('chainfaas', PLATFORM_NODE, 'v20.20.2', DAY)).toMatch(/^chainfaas needs Node.js 24.11.0 or newer.*this is Node.js v20.20.2\.$/);
  expect(nodeProblem('chainfaas', PLATFORM_NODE, '24.10.0', DAY)).toMatch(/this is Node.js 24.10.0/);
  expect(nodeProblem('chainfaas', PLATFORM_NODE, '26.1.0', DAY)).toBeUndefined();
});

test('the agent runs on Node 22 while it is supported, and says what it needs once it is not', () => {
  expect(nodeProblem('chainfaas-provider', AGENT_NODE, '22.12.0', DAY)).toBeUndefined();
  expect(nodeProblem('chainfaas-provider', AGENT_NODE, '22.11.0', DAY)).toMatch(/needs Node.js 22.12.0 or newer/);
  expect(nodeProblem('chainfaas-provider', AGENT_NODE, '22.22.0', new Date('2027-05-01T00:00:00Z'))).toBe(
    'chainfaas-provider needs Node.js 22.12.0 or newer (a supported release; Node 24 LTS recommended); Node.js 22.22.0 reached its end of life on 2027-04-30.',
  );
  expect(nodeProblem('chainfaas-provider', AGENT_NODE, '20.20.2', DAY)).toMatch(/this is Node.js 20.20.2/);
  // An odd (non-LTS) line past its end of life is refused even though it is newer than the minimum.
  expect(nodeProblem('chainfaas-provider', AGENT_NODE, '23.11.0', DAY)).toMatch(/reached its end of life on 2025-06-01/);
});
