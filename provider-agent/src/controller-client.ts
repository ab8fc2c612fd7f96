import { z } from 'zod';
import { HeartbeatAnswer, HeartbeatBody, Problem, ProviderCredentials, RegisterProviderBody, ReportOutcome, RuntimeReport } from '../../contract/src';
import { Registration } from './config';
import { errorMessage } from './log';
import type { QueueCredentials } from './queue-credentials';

/**
 * The three calls the agent makes to the controller's HTTP API, authenticated with the provider
 * user's bearer token: register, heartbeat, and post a signed run-time report. Answers are
 * parsed with the contract's answer schemas; failures become {@link ControllerError}s that say whether retrying can help.
 */

/** A failed call. `status` is 0 when no HTTP answer arrived (network error, timeout). */
export class ControllerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ControllerError';
  }

  /** True when the controller refused the request itself: sending it again cannot succeed. */
  get definitive(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

/** Per-request time limit: the controller answers these calls quickly or not at all. */
const REQUEST_TIMEOUT_MS = 15_000;

export class ControllerClient {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** `POST /providers`: registers this machine with its public key and capacity. */
  async register(body: z.input<typeof RegisterProviderBody>): Promise<Registration> {
    return Registration.parse(await this.call('POST', '/providers', RegisterProviderBody.parse(body)));
  }

  /**
   * `PUT /providers/{id}/heartbeat`; the answer says whether the controller wants the agent to
   * drain and which of the jobs it listed are no longer its to run.
   */
  async heartbeat(providerId: string, body: z.input<typeof HeartbeatBody>): Promise<{ drain: boolean; revokedJobs: string[] }> {
    const answer = HeartbeatAnswer.parse(await this.call('PUT', `/providers/${encodeURIComponent(providerId)}/heartbeat`, HeartbeatBody.parse(body)));
    return { drain: answer.drain, revokedJobs: answer.revokedJobs };
  }

  /** `POST /providers/{id}/credentials`: fresh STS credentials for the provider's own queue (AWS mode). */
  async queueCredentials(providerId: string): Promise<QueueCredentials> {
    const answer = ProviderCredentials.parse(await this.call('POST', `/providers/${encodeURIComponent(providerId)}/credentials`, {}));
    if (answer.credentialsMode !== 'sts' || !answer.credentials) throw new Error('the controller issues no queue credentials (local mode uses the environment)');
    return { ...answer.credentials, expiration: new Date(answer.credentials.expiration) };
  }

  /** `POST /providers/{id}/reports` with the report, the provider's signature over its canonical JSON and, when it travels inline, the result. */
  async postReport(providerId: string, report: RuntimeReport, signature: string, resultBase64?: string): Promise<ReportOutcome> {
    return ReportOutcome.parse(await this.call('POST', `/providers/${encodeURIComponent(providerId)}/reports`, { report, signature, resultBase64 }));
  }

  private async call(method: string, path: string, body: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ControllerError(`${method} ${path}: ${errorMessage(err)}`, 0);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const problem = Problem.safeParse(json);
      const detail = problem.success
        ? `${problem.data.error.code}: ${problem.data.error.message}${problem.data.error.field ? ` (${problem.data.error.field})` : ''}`
        : text.slice(0, 200) || response.statusText;
      throw new ControllerError(
        `${method} ${path} answered ${response.status}: ${detail}`,
        response.status,
        problem.success ? problem.data.error.code : undefined,
      );
    }
    return json;
  }
}
