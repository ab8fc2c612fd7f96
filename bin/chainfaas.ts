#!/usr/bin/env node
/**
 * The CDK app: one ChainFaaS controller stack per stage, configured from the stage's checked-in
 * settings file `stages/<stage>.json` (`-c stage=...`, default `dev`) with CDK context on top
 * (lib/stage-settings.ts; lib/config.ts lists every key and its default). Without `account` and
 * `region` in the stage file the stack is environment-agnostic, so `npx cdk synth` needs no AWS
 * account; `cdk deploy` takes them from the caller's credentials.
 */
import { App } from 'aws-cdk-lib';
import { ChainFaasStack } from '../lib/chainfaas-stack';
import { stageConfig } from '../lib/stage-settings';

const app = new App();
const { config, env } = stageConfig(app);
new ChainFaasStack(app, `ChainFaas-${config.stage}`, { config, env });
