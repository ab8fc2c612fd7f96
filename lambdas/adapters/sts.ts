import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { ProviderCredentialIssuer, TemporaryCredentials } from '../core/ports';
import { providerSessionPolicy, sessionName } from '../core/session-policies';
import { sts } from './clients';

/**
 * A provider's AWS credentials: STS AssumeRole on the provider role (lib/constructs/provider-queues.ts,
 * `ProviderRole`) with a session policy naming only the provider's own queue. The role allows the
 * agent's actions on every provider queue; the session narrows them to one. Used in AWS only: in
 * local mode there is no STS, and the agent uses the environment's (emulator) credentials.
 */
export class StsProviderCredentials implements ProviderCredentialIssuer {
  constructor(
    private readonly roleArn: string,
    /** Role chaining (a Lambda assuming a role) caps sessions at 3600 s. */
    private readonly durationS = 3600,
  ) {}

  async issue(providerId: string, queueArn: string): Promise<TemporaryCredentials> {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: this.roleArn,
        RoleSessionName: sessionName(providerId),
        Policy: providerSessionPolicy(queueArn),
        DurationSeconds: Math.max(900, Math.min(3600, this.durationS)),
      }),
    );
    return toCredentials(out.Credentials, this.roleArn);
  }
}

export function toCredentials(
  c: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date } | undefined,
  roleArn: string,
): TemporaryCredentials {
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error(`STS returned no credentials for ${roleArn}`);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration.toISOString() };
}
