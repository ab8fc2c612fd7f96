#!/usr/bin/env node
/**
 * The CDK app: one ChainFaaS controller stack, configured from CDK context (lib/config.ts lists
 * every key and its default). Environment-agnostic on purpose, so `npx cdk synth` needs no AWS
 * account; `cdk deploy` takes the account and region from the caller's credentials.
 */
import { App } from 'aws-cdk-lib';
import { ChainFaasStack } from '../lib/chainfaas-stack';
import { configFromContext } from '../lib/config';

const app = new App();
const config = configFromContext(app);
new ChainFaasStack(app, `ChainFaas-${config.stage}`, { config });
