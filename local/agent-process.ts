import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../lib/project-root';

/**
 * Provider agents as separate processes, for the chaos suite (test/chaos/): the compiled
 * `chainfaas-provider` CLI, registered and started exactly as an operator runs it, so that a
 * SIGKILL is a real one (no drain, no last heartbeat, containers left behind) and a restart
 * reloads the agent's attempt log from its config directory.
 */

const run = promisify(execFile);

/**
 * Compiles the provider CLI and what it imports (only that: other parts of the tree may be
 * mid-edit) into a temporary directory; returns the path of `cli.js`.
 */
export async function compileProviderCli(): Promise<string> {
  const repo = projectRoot();
  const outDir = mkdtempSync(join(tmpdir(), 'chainfaas-provider-cli-'));
  const project = join(outDir, 'tsconfig.json');
  writeFileSync(
    project,
    JSON.stringify({
      extends: join(repo, 'tsconfig.json'),
      compilerOptions: { outDir, rootDir: repo, typeRoots: [join(repo, 'node_modules', '@types')], incremental: false },
      include: [],
      files: [join(repo, 'provider-agent/src/cli.ts')],
    }),
  );
  await run(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: repo });
  return join(outDir, 'provider-agent', 'src', 'cli.js');
}

/** Removes what {@link compileProviderCli} wrote: the temporary directory holding `cli.js`. */
export function removeCompiledCli(cli: string): void {
  rmSync(dirname(dirname(dirname(cli))), { recursive: true, force: true });
}

export interface AgentProcessOptions {
  /** The compiled cli.js (run with this Node), or with `installed` the `chainfaas-provider` executable. */
  cli: string;
  /** `cli` is an installed `chainfaas-provider` (npm install -g), run as it is. @default false */
  installed?: boolean;
  /** The environment instead of this process's with the repository's node_modules on NODE_PATH. */
  env?: NodeJS.ProcessEnv;
  apiUrl: string;
  /** A provider account's bearer token. */
  token: string;
  name: string;
  capacity: { vcpu: number; memoryMb: number };
  /** The agent's config directory (keys, registration, attempt log). @default a new temporary one */
  configDir?: string;
  /** How long a received job stays hidden (the CLI's minimum is 10). @default 10 */
  visibilityTimeoutS?: number;
}

/** A registered provider whose agent runs as a child process; `kill()` is SIGKILL, `start()` starts it again. */
export class AgentProcess {
  private child?: ChildProcess;
  /** How many times the process was started. */
  starts = 0;
  /** How many times it was SIGKILLed. */
  kills = 0;

  private constructor(
    private readonly options: AgentProcessOptions & { configDir: string },
    readonly providerId: string,
  ) {}

  /** Registers the provider with the CLI (`chainfaas-provider register`), not started yet. */
  static async register(options: AgentProcessOptions): Promise<AgentProcess> {
    const configDir = options.configDir ?? join(mkdtempSync(join(tmpdir(), 'chainfaas-agent-')), 'provider');
    mkdirSync(configDir, { recursive: true, mode: 0o700 });
    const args = ['register', '--api-url', options.apiUrl, '--token', options.token, '--name', options.name];
    args.push('--vcpu', String(options.capacity.vcpu), '--memory-mb', String(options.capacity.memoryMb));
    const [file, argv] = command(options, args);
    await run(file, argv, { env: agentEnv(configDir, options.env) });
    const providerId = JSON.parse(readFileSync(join(configDir, 'provider.json'), 'utf8')).registration.providerId as string;
    return new AgentProcess({ ...options, configDir }, providerId);
  }

  get configDir(): string {
    return this.options.configDir;
  }

  get pid(): number | undefined {
    return this.alive ? this.child?.pid : undefined;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the agent (`chainfaas-provider start`) and resolves once its status file says it runs. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.alive) return;
    const statusFile = join(this.configDir, 'status.json');
    const startedAt = Date.now();
    const args = ['start', '--poll-wait-s', '1', '--log-level', 'error', '--visibility-timeout-s', String(this.options.visibilityTimeoutS ?? 10)];
    const [file, argv] = command(this.options, args);
    this.child = spawn(file, argv, { env: agentEnv(this.configDir, this.options.env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    this.starts++;
    for (;;) {
      if (!this.alive) {
        const child = this.child;
        await new Promise((r) => (child.stderr && !child.stderr.readableEnded ? child.stderr.once('close', r) : r(undefined)));
        throw new Error(`agent ${this.providerId} exited (code ${child.exitCode}, signal ${child.signalCode}) while starting: ${stderr}`);
      }
      try {
        const status = JSON.parse(readFileSync(statusFile, 'utf8')) as { state: string; updatedAt: string };
        if (status.state === 'running' && Date.parse(status.updatedAt) >= startedAt) return;
      } catch {
        // not written yet, or mid-rename
      }
      if (Date.now() - startedAt > timeoutMs) throw new Error(`agent ${this.providerId} did not start within ${timeoutMs} ms: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL: no drain, no last heartbeat; its containers outlive it until its next start reaps them. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.kills++;
  }

  /** Resident set size of the agent process (from /proc), in bytes; undefined when not running. */
  rssBytes(): number | undefined {
    const pid = this.pid;
    if (pid === undefined) return undefined;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** The agent's attempt log (provider-agent/src/attempts.ts), every line, in order. */
  attemptLog(): { jobId: string; attempt: number; state: string; at: string }[] {
    const file = join(this.configDir, 'attempts.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .flatMap((line) => {
        try {
          return [JSON.parse(line)];
        } catch {
          return []; // a line cut short by a SIGKILL
        }
      });
  }

  /** Drains (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

function command(options: AgentProcessOptions, args: string[]): [string, string[]] {
  return options.installed ? [options.cli, args] : [process.execPath, [options.cli, ...args]];
}

function agentEnv(configDir: string, base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...(base ?? { ...process.env, NODE_PATH: join(projectRoot(), 'node_modules') }),
    CHAINFAAS_PROVIDER_DIR: configDir,
    // Local mode: the agent's SQS client uses the environment's (emulator) credentials.
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
}
