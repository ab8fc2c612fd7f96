/**
 * Which Node.js a program of ChainFaaS runs on. The platform (`npm start`, the `chainfaas` CLI,
 * the controller's Lambdas) is developed and tested on Node 24 LTS and needs it; the provider agent
 * runs on volunteers' machines, so it also accepts an older Node, but only while that Node is still
 * supported upstream. Each check names the version it needs.
 */

/** End of life of each Node.js line (nodejs.org's release schedule); a newer line is taken as supported. */
const END_OF_LIFE: Record<number, string> = { 20: '2026-04-30', 22: '2027-04-30', 23: '2025-06-01', 24: '2028-04-30', 25: '2026-06-01' };

/** The oldest Node the platform runs on (package.json's `engines.node` says the same, a test holds them together). */
export const PLATFORM_NODE = '24.11.0';
/** The oldest Node the provider agent runs on, while its line is supported. */
export const AGENT_NODE = '22.12.0';

function parse(version: string): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = version.replace(/^v/, '').split('.').map((part) => Number.parseInt(part, 10) || 0);
  return [major, minor, patch];
}

function older(a: string, b: string): boolean {
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i += 1) if (x[i] !== y[i]) return (x[i] as number) < (y[i] as number);
  return false;
}

/**
 * Why `program` cannot run on Node `version` (default: this process's), or undefined when it can:
 * the version must be at least `minimum`, and its line must not be past its end of life on `today`.
 */
export function nodeProblem(program: string, minimum: string, version: string = process.versions.node, today: Date = new Date()): string | undefined {
  const needs = `${program} needs Node.js ${minimum} or newer (a supported release; Node 24 LTS recommended)`;
  if (older(version, minimum)) return `${needs}; this is Node.js ${version}.`;
  const endOfLife = END_OF_LIFE[parse(version)[0]];
  if (endOfLife !== undefined && today.toISOString().slice(0, 10) > endOfLife) return `${needs}; Node.js ${version} reached its end of life on ${endOfLife}.`;
  return undefined;
}

/** Exits with status 1 and a one-line reason when this Node cannot run `program`. */
export function requireNode(program: string, minimum: string): void {
  const problem = nodeProblem(program, minimum);
  if (problem === undefined) return;
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
