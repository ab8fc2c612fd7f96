import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { ENV } from '../../lambdas/handlers/manifest';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { SigningKey } from '../../lib/constructs/signing-key';
import { handle, type KeyStore } from '../../lib/handlers/controller-key';
import { actionsOf, statementsOfRole, synthControllerStack, testStack } from './helpers';

/**
 * Issue #20, item 3: the controller's key is generated inside AWS on the first deploy (never in
 * cdk.out) and its public key reaches the Lambdas in the same deploy. The handler runs here against
 * a real HTTP server standing in for CloudFormation's response URL; the secret is an in-memory
 * store (there is no Secrets Manager emulator on this machine).
 */
function memoryStore(initial?: string): KeyStore & { value?: string; writes: number } {
  const store = {
    value: initial,
    writes: 0,
    read: async () => store.value,
    write: async (pem: string) => {
      store.value = pem;
      store.writes++;
    },
  };
  return store;
}

let server: Server;
let responses: Record<string, unknown>[] = [];
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      responses.push(JSON.parse(body));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  responses = [];
});

const event = (requestType: 'Create' | 'Update' | 'Delete', mayGenerate = true): CloudFormationCustomResourceEvent =>
  ({
    RequestType: requestType,
    ResponseURL: url,
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/ChainFaas-prod/1',
    RequestId: 'r1',
    LogicalResourceId: 'SigningKeyKey',
    ResourceType: 'Custom::ControllerKey',
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:f',
    ResourceProperties: { ServiceToken: 'x', SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf', MayGenerate: String(mayGenerate) },
    ...(requestType === 'Create' ? {} : { PhysicalResourceId: 'controller-key:arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf' }),
  }) as CloudFormationCustomResourceEvent;

describe('the controller-key custom resource handler', () => {
  test('first deploy: replaces the placeholder with a new Ed25519 key and answers its public key, nothing secret', async () => {
    const store = memoryStore('Xy7placeholder48characterslongnotakeyatall00000');
    await handle(event('Create'), store);
    expect(store.writes).toBe(1);
    const [answer] = responses as { Status: string; Data: { PublicKeyPem: string } }[];
    expect(answer.Status).toBe('SUCCESS');
    const privateKey = createPrivateKey(store.value!);
    expect(privateKey.asymmetricKeyType).toBe('ed25519');
    // The answered public key verifies what the stored private key signs.
    const signature = sign(null, Buffer.from('envelope'), privateKey);
    expect(verify(null, Buffer.from('envelope'), createPublicKey(answer.Data.PublicKeyPem), signature)).toBe(true);
    expect(JSON.stringify(answer)).not.toContain('PRIVATE KEY');
  });

  test('later deploys keep the key: same public key, no write', async () => {
    const store = memoryStore();
    await handle(event('Create'), store);
    await handle(event('Update'), store);
    expect(store.writes).toBe(1);
    const keys = (responses as { Data: { PublicKeyPem: string } }[]).map((r) => r.Data.PublicKeyPem);
    expect(keys[1]).toBe(keys[0]);
  });

  test("an operator's existing secret is never written; without a key in it the deploy fails, naming why", async () => {
    const store = memoryStore('not a key');
    await handle(event('Create', false), store);
    expect(store.writes).toBe(0);
    expect(responses[0]).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/holds no PKCS#8 PEM private key/) });
    const existing = generateKeyPairSync('ed25519');
    const filled = memoryStore(existing.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await handle(event('Update', false), filled);
    expect((responses[1] as { Data: { PublicKeyPem: string } }).Data.PublicKeyPem).toBe(existing.publicKey.export({ type: 'spki', format: 'pem' }));
  });

  test('refuses a key of another kind; Delete leaves the secret alone', async () => {
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await handle(event('Update'), memoryStore(rsa));
    expect(responses[0]).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/ec key, not Ed25519/) });
    const store = memoryStore('x');
    await handle(event('Delete'), store);
    expect(responses[1]).toMatchObject({ Status: 'SUCCESS' });
    expect(store.writes).toBe(0);
  });
});

describe('SigningKey without a configured public key', () => {
  test('a custom resource makes the key in AWS; its public key is wired into the Lambdas in the same deploy', () => {
    const stack = testStack();
    const key = new SigningKey(stack, 'Key');
    const other = new PlatformFunction(stack, 'Other', { entry: 'test/cdk/fixtures/echo-handler.ts' });
    key.bindPublicKey(other);
    const template = Template.fromStack(stack);
    const crId = stack.getLogicalId(key.keyResource!.node.defaultChild as CfnResource);
    const secretId = stack.getLogicalId(key.secret.node.defaultChild as CfnResource);
    template.hasResourceProperties('Custom::ControllerKey', { SecretId: { Ref: secretId }, MayGenerate: 'true' });
    const env = template.toJSON().Resources[stack.getLogicalId(other.node.defaultChild as CfnResource)].Properties.Environment.Variables;
    expect(env[ENV.publicKey]).toEqual({ 'Fn::GetAtt': [crId, 'PublicKeyPem'] });
    // The key handler may read and write that one secret, nothing else of Secrets Manager.
    const handlerRole = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith('KeyKeyHandler'))!;
    const secretActions = statementsOfRole(template, handlerRole).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secretActions.every((s) => JSON.stringify(s.Resource) === JSON.stringify({ Ref: secretId }))).toBe(true);
    expect(secretActions.flatMap(actionsOf)).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue']));
  });

  test('an existing secret: read only, MayGenerate false', () => {
    const stack = testStack();
    const key = new SigningKey(stack, 'Key', { existingSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::ControllerKey', { MayGenerate: 'false' });
    const handlerRole = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith('KeyKeyHandler'))!;
    expect(statementsOfRole(template, handlerRole).flatMap(actionsOf)).not.toContain('secretsmanager:PutSecretValue');
    expect(key.keyResource).toBeDefined();
  });

  test('the whole stack with no context at all: no key material in the template, every Lambda gets the public key', () => {
    const { template, stack } = synthControllerStack({ controllerPublicKey: undefined });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/PRIVATE KEY|BEGIN PUBLIC KEY/);
    const crId = stack.getLogicalId(stack.signingKey.keyResource!.node.defaultChild as CfnResource);
    for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      const vars = fn.Properties.Environment?.Variables ?? {};
      if (vars[ENV.signingKeySecretArn] || !id.match(/^[A-Z][a-z]+[A-Za-z]*Function[0-9A-F]{8}$/)) continue;
      expect([id, vars[ENV.publicKey]]).toEqual([id, { 'Fn::GetAtt': [crId, 'PublicKeyPem'] }]);
    }
  });
});
