import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { projectRoot } from '../../lib/project-root';
import { configFromContext, controllerEnvironment, DEFAULT_CONFIG, observabilityEnvironment } from '../../lib/config';
import { configFromEnv } from '../../lambdas/adapters/deps';
import { ENV } from '../../lambdas/handlers/manifest';

/** Runs `fn` with exactly these controller settings in process.env. */
function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const saved = { ...process.env };
  try {
    for (const name of [...Object.values(ENV.settings), ENV.operatorUserIds]) delete process.env[name];
    Object.assign(process.env, env);
    return fn();
  } finally {
    process.env = saved;
  }
}

const read = (context: Record<string, unknown>) => configFromContext(new App({ context }));

describe('configFromContext', () => {
  test('no context gives the documented defaults', () => {
    expect(read({})).toEqual({
      ...DEFAULT_CONFIG,
      signingKeySecretArn: undefined,
      controllerPublicKey: undefined,
      alarmEmail: undefined,
      operatorUserIds: undefined,
    });
  });

  test('parses CLI strings (-c key=value) into typed values', () => {
    const config = read({
      stage: 'prod',
      apiRateLimit: '200',
      retainData: 'false',
      corsAllowedOrigins: 'https://a.example, https://b.example',
      lambdaRuntime: 'nodejs22.x',
      controllerPublicKey: '-----BEGIN PUBLIC KEY-----\\nMCow\\n-----END PUBLIC KEY-----\\n',
    });
    expect(config).toMatchObject({
      stage: 'prod',
      apiRateLimit: 200,
      retainData: false,
      corsAllowedOrigins: ['https://a.example', 'https://b.example'],
      lambdaRuntime: 'nodejs22.x',
    });
    expect(config.controllerPublicKey).toBe('-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n');
  });

  test.each([
    [{ stage: 'Prod!' }, /stage/],
    [{ apiRateLimit: '-1' }, /apiRateLimit/],
    [{ priceVcpuMs: '1.5' }, /priceVcpuMs/],
    [{ retainData: 'yes' }, /retainData/],
    [{ lambdaRuntime: 'nodejs18.x' }, /lambdaRuntime/],
    [{ lambdaRuntime: 'nodejs20.x' }, /lambdaRuntime/],
    [{ schedulerPolicy: 'fastest' }, /schedulerPolicy/],
    [{ ledgerWriterLanes: '0' }, /ledgerWriterLanes/],
    [{ ledgerWriterLanes: '33' }, /ledgerWriterLanes/],
    [{ controllerPublicKey: 'not a pem' }, /controllerPublicKey/],
    [{ signingKeySecretArn: 'my-secret' }, /signingKeySecretArn/],
    [{ fabric: 'amb' }, /fabric/],
    [{ fabric: 'external', fabricPeerEndpoint: 'peer:7051' }, /fabricIdentitySecretArn/],
    [{ fabricExternalCidrs: '0.0.0.0/0' }, /fabricExternalCidrs/],
    [{ apiDomainName: 'api.chainfaas.example' }, /apiDomainName and apiCertificateArn together/],
    [{ apiDomainName: 'API.example', apiCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' }, /lower-case DNS name/],
    [{ portalDomainName: 'chainfaas.example', portalCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' }, /portalCertificateArn.*us-east-1/],
    [{ apiDomainName: 'api.chainfaas.example', apiCertificateArn: 'my-cert' }, /apiCertificateArn.*ACM certificate ARN/],
  ])('rejects %j naming the key', (context, message) => {
    expect(() => read(context)).toThrow(message);
  });

  test("the README's deploy section names every context key", () => {
    const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Deploy to AWS'));
    const keys = Object.keys(read({}));
    expect(keys.length).toBeGreaterThan(40);
    expect(keys.filter((key) => !section.includes(`\`${key}\``))).toEqual([]);
  });

  test('fabric settings', () => {
    expect(read({ fabric: 'ec2', fabricExternalCidrs: '198.51.100.0/24,203.0.113.7/32', fabricVolumeGiB: '50' })).toMatchObject({
      fabric: 'ec2',
      fabricExternalCidrs: ['198.51.100.0/24', '203.0.113.7/32'],
      fabricVolumeGiB: 50,
      fabricInstanceType: 't4g.medium',
      fabricOrderers: 1,
    });
    expect(read({ fabricOrderers: '3' }).fabricOrderers).toBe(3);
    for (const bad of ['2', '0', 'three']) expect(() => read({ fabricOrderers: bad })).toThrow(/fabricOrderers/);
  });

  test('controllerEnvironment gives the handlers every setting of the manifest, as strings', () => {
    expect(controllerEnvironment({ ...DEFAULT_CONFIG, priceVcpuMs: 12 })).toEqual({
      SCHEDULER_POLICY: 'random-fit',
      HEARTBEAT_INTERVAL_S: '10',
      HEARTBEAT_STALE_MS: '45000',
      PRICE_VERSION: '1',
      PRICE_VCPU_MS: '12',
      PRICE_MB_MS: '1',
      PRESIGN_TTL_S: '3600',
      TOKEN_TTL_S: '2592000',
      SIGNUP_CREDIT: '0',
      LEASE_S: '30',
      MAX_ATTEMPTS: '3',
      MAX_WAIT_S: '300',
      MAX_WAITING_PER_DEVELOPER: '100',
      MAX_WAITING_TOTAL: '1000',
      RETRY_AFTER_S: '10',
      PROVIDER_CREDENTIALS_TTL_S: '3600',
      RESULT_ROLE_REQUIRED: 'true',
      CALLBACK_ALLOW_LOOPBACK: '0',
    });
    expect(Object.keys(controllerEnvironment(DEFAULT_CONFIG)).sort()).toEqual(Object.values(ENV.settings).sort());
    expect(controllerEnvironment({ ...DEFAULT_CONFIG, operatorUserIds: ['usr_a1', 'usr_b2'] })[ENV.operatorUserIds]).toBe('usr_a1,usr_b2');
  });

  test('observabilityEnvironment names the stage as the service, one namespace, and the log level from context', () => {
    expect(observabilityEnvironment({ ...DEFAULT_CONFIG, stage: 'prod', logLevel: 'WARN' })).toEqual({
      POWERTOOLS_SERVICE_NAME: 'chainfaas-prod',
      POWERTOOLS_METRICS_NAMESPACE: 'ChainFaaS',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    expect(Object.keys(observabilityEnvironment(DEFAULT_CONFIG)).every((name) => (Object.values(ENV.powertools) as string[]).includes(name))).toBe(true);
  });

  test('the defaults are the ones the handlers fall back to (configFromEnv with an empty environment)', () => {
    const saved = { ...process.env };
    try {
      for (const name of [...Object.values(ENV.settings), ENV.operatorUserIds]) delete process.env[name];
      const handlers = configFromEnv();
      const fromCdk = withEnv(controllerEnvironment(DEFAULT_CONFIG), configFromEnv);
      // RESULT_ROLE_REQUIRED's fallback depends on AWS_ENDPOINT_URL_S3 (unset in Lambda); the rest must agree exactly.
      expect({ ...fromCdk, sqsEndpoint: undefined }).toEqual({
        ...handlers,
        sqsEndpoint: undefined,
        scheduling: { ...handlers.scheduling, resultRoleRequired: true },
      });
      expect(fromCdk.operatorUserIds).toEqual([]);
      expect(withEnv(controllerEnvironment({ ...DEFAULT_CONFIG, operatorUserIds: ['usr_Admin1'] }), () => [...configFromEnv().operatorUserIds])).toEqual([
        'usr_Admin1',
      ]);
    } finally {
      process.env = saved;
    }
  });

  test('scheduling settings from context, validated', () => {
    expect(read({ leaseS: '20', maxAttempts: '4', retryAfterS: '5', providerCredentialsTtlS: '900', operatorUserIds: 'usr_A1, usr_B2' })).toMatchObject({
      leaseS: 20,
      maxAttempts: 4,
      retryAfterS: 5,
      providerCredentialsTtlS: 900,
      operatorUserIds: ['usr_A1', 'usr_B2'],
    });
    expect(() => read({ providerCredentialsTtlS: '7200' })).toThrow(/providerCredentialsTtlS.*900 to 3600/);
    expect(() => read({ maxAttempts: '0' })).toThrow(/maxAttempts/);
    expect(() => read({ operatorUserIds: 'admin@example.com' })).toThrow(/operatorUserIds/);
    expect(() => read({ logLevel: 'verbose' })).toThrow(/logLevel/);
  });
});
