import { App, type CfnResource } from 'aws-cdk-lib';
import { configFromContext } from '../../lib/config';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { ENV, HANDLERS, ROUTES, type HandlerName } from '../../lambdas/handlers/manifest';
import { actionsOf, resourcesOf, statementsOfRole, synthControllerStack, type SynthesisedStack } from './helpers';

/**
 * Issue #21 in the stack: the Stripe secret (context `stripeSecretArn`) is readable by the Lambdas
 * the manifest marks `payments` and by no other, which alone run with PAYMENT_PROVIDER=stripe; the
 * webhook is a public route (Stripe signs it; no authorizer could).
 */
const HANDLER_NAMES = Object.keys(HANDLERS) as HandlerName[];
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:chainfaas/stripe-AbC123';

let synth: SynthesisedStack;
let bare: SynthesisedStack;
beforeAll(() => {
  synth = synthControllerStack({ stripeSecretArn: ARN, paymentsPortalUrl: 'https://portal.example/' });
  bare = synthControllerStack();
});

const fnOf = (s: SynthesisedStack, name: HandlerName) => s.stack.getLogicalId(s.stack.functions[name].node.defaultChild as CfnResource);
const env = (s: SynthesisedStack, name: HandlerName): Record<string, unknown> => s.template.toJSON().Resources[fnOf(s, name)].Properties.Environment.Variables;
const readsStripe = (s: SynthesisedStack, name: HandlerName) =>
  statementsOfRole(s.template, s.stack.getLogicalId((s.stack.functions[name].role as iam.Role).node.defaultChild as CfnResource))
    .filter((st) => st.Effect === 'Allow' && actionsOf(st).includes('secretsmanager:GetSecretValue'))
    .some((st) => resourcesOf(st).some((r) => JSON.stringify(r).includes('chainfaas/stripe')));

test('only the payments Lambdas read the Stripe secret and use Stripe', () => {
  const payments = HANDLER_NAMES.filter((n) => HANDLERS[n].payments);
  expect(payments.sort()).toEqual(['billing', 'ledgerWriter']);
  for (const name of HANDLER_NAMES) {
    expect({ name, reads: readsStripe(synth, name) }).toEqual({ name, reads: HANDLERS[name].payments === true });
    if (HANDLERS[name].payments)
      expect(env(synth, name)).toMatchObject({
        [ENV.paymentProvider]: 'stripe',
        [ENV.payments.stripeSecretArn]: expect.stringContaining('chainfaas/stripe'),
        [ENV.payments.portalUrl]: 'https://portal.example/',
      });
    else expect(env(synth, name)[ENV.payments.stripeSecretArn]).toBeUndefined();
  }
});

test('without stripeSecretArn no Lambda has a payment provider or the secret', () => {
  for (const name of HANDLER_NAMES) {
    expect(readsStripe(bare, name)).toBe(false);
    expect(env(bare, name)[ENV.paymentProvider]).toBeUndefined();
  }
});

test("the webhook route is public (Stripe's signature is its authentication) and served by the billing Lambda", () => {
  expect(ROUTES.find((r) => r.path === '/payments/webhook')).toEqual({ method: 'POST', path: '/payments/webhook', handler: 'billing', auth: false });
  const route = Object.values(synth.template.findResources('AWS::ApiGatewayV2::Route')).find((r) => r.Properties.RouteKey === 'POST /payments/webhook');
  expect(route).toBeDefined();
  expect(route!.Properties.AuthorizationType ?? 'NONE').toBe('NONE');
});

test('the payment context keys are checked at synth, naming the key', () => {
  const read = (context: Record<string, unknown>) => configFromContext(new App({ context }));
  expect(read({ stripeSecretArn: ARN, paymentsPortalUrl: 'https://portal.example/' })).toMatchObject({ stripeSecretArn: ARN, paymentsPortalUrl: 'https://portal.example/' });
  expect(() => read({ stripeSecretArn: 'my-stripe-secret' })).toThrow(/stripeSecretArn/);
  expect(() => read({ paymentsPortalUrl: 'http://portal.example/' })).toThrow(/paymentsPortalUrl/);
});
