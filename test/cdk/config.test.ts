import { App } from 'aws-cdk-lib';
import { configFromContext, controllerEnvironment, DEFAULT_CONFIG } from '../../lib/config';

const read = (context: Record<string, unknown>) => configFromContext(new App({ context }));

describe('configFromContext', () => {
  test('no context gives the documented defaults', () => {
    expect(read({})).toEqual({ ...DEFAULT_CONFIG, signingKeySecretArn: undefined, controllerPublicKey: undefined, alarmEmail: undefined });
  });

  test('parses CLI strings (-c key=value) into typed values', () => {
    const config = read({
      stage: 'prod',
      apiRateLimit: '200',
      retainData: 'false',
      corsAllowedOrigins: 'https://a.example, https://b.example',
      lambdaRuntime: 'nodejs24.x',
      controllerPublicKey: '-----BEGIN PUBLIC KEY-----\\nMCow\\n-----END PUBLIC KEY-----\\n',
    });
    expect(config).toMatchObject({ stage: 'prod', apiRateLimit: 200, retainData: false, corsAllowedOrigins: ['https://a.example', 'https://b.example'], lambdaRuntime: 'nodejs24.x' });
    expect(config.controllerPublicKey).toBe('-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\n');
  });

  test.each([
    [{ stage: 'Prod!' }, /stage/],
    [{ apiRateLimit: '-1' }, /apiRateLimit/],
    [{ priceVcpuMs: '1.5' }, /priceVcpuMs/],
    [{ retainData: 'yes' }, /retainData/],
    [{ lambdaRuntime: 'nodejs18.x' }, /lambdaRuntime/],
    [{ schedulerPolicy: 'fastest' }, /schedulerPolicy/],
    [{ controllerPublicKey: 'not a pem' }, /controllerPublicKey/],
    [{ signingKeySecretArn: 'my-secret' }, /signingKeySecretArn/],
    [{ fabric: 'amb' }, /fabric/],
    [{ fabric: 'external', fabricPeerEndpoint: 'peer:7051' }, /fabricIdentitySecretArn/],
    [{ fabricExternalCidrs: '0.0.0.0/0' }, /fabricExternalCidrs/],
  ])('rejects %j naming the key', (context, message) => {
    expect(() => read(context)).toThrow(message);
  });

  test('fabric settings', () => {
    expect(read({ fabric: 'ec2', fabricExternalCidrs: '198.51.100.0/24,203.0.113.7/32', fabricVolumeGiB: '50' })).toMatchObject({
      fabric: 'ec2',
      fabricExternalCidrs: ['198.51.100.0/24', '203.0.113.7/32'],
      fabricVolumeGiB: 50,
      fabricInstanceType: 't4g.medium',
    });
  });

  test('controllerEnvironment gives the handlers their settings as strings', () => {
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
    });
  });
});
