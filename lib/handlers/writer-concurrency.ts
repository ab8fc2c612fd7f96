/**
 * Custom resource handler of the ledger writer's reserved concurrency
 * (lib/constructs/reserved-concurrency.ts). Reserved concurrency set in the template fails the
 * whole deploy in an account whose concurrency quota is still the new-account 10 (Lambda keeps 10
 * unreserved). This handler reserves what is asked when the account can afford it, and otherwise
 * leaves the function unreserved and says so in its answer (`Reserved`), so the first deploy of a
 * new account succeeds and a later deploy, once the quota is raised, reserves.
 */
import { DeleteFunctionConcurrencyCommand, GetAccountSettingsCommand, GetFunctionConcurrencyCommand, LambdaClient, PutFunctionConcurrencyCommand } from '@aws-sdk/client-lambda';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { respond } from './controller-key';

/** Lambda's floor: this many executions always stay unreserved in an account. */
export const MIN_UNRESERVED = 10;

/** The Lambda API calls the decision needs. */
export interface ConcurrencyApi {
  /** The account's unreserved concurrency, and what `functionName` itself reserves now (0: none). */
  read(functionName: string): Promise<{ unreserved: number; reservedHere: number }>;
  reserve(functionName: string, n: number): Promise<void>;
  unreserve(functionName: string): Promise<void>;
}

/** Reserves `wanted` for the function if the account keeps MIN_UNRESERVED besides; returns what is reserved. */
export async function applyReservedConcurrency(api: ConcurrencyApi, functionName: string, wanted: number): Promise<number> {
  const { unreserved, reservedHere } = await api.read(functionName);
  if (wanted > 0 && unreserved + reservedHere - wanted >= MIN_UNRESERVED) {
    if (reservedHere !== wanted) await api.reserve(functionName, wanted);
    return wanted;
  }
  if (reservedHere > 0) await api.unreserve(functionName);
  return 0;
}

const lambda = new LambdaClient({});

const lambdaApi: ConcurrencyApi = {
  read: async (functionName) => {
    const [settings, own] = await Promise.all([
      lambda.send(new GetAccountSettingsCommand({})),
      lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: functionName })),
    ]);
    return { unreserved: settings.AccountLimit?.UnreservedConcurrentExecutions ?? 0, reservedHere: own.ReservedConcurrentExecutions ?? 0 };
  },
  reserve: async (functionName, n) => {
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: functionName, ReservedConcurrentExecutions: n }));
  },
  unreserve: async (functionName) => {
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: functionName }));
  },
};

/** The Lambda entry point. */
export const handler = (event: CloudFormationCustomResourceEvent): Promise<void> => handle(event);

export async function handle(event: CloudFormationCustomResourceEvent, api: ConcurrencyApi = lambdaApi): Promise<void> {
  const props = event.ResourceProperties as unknown as { FunctionName: string; Wanted: string };
  const physicalResourceId = `reserved-concurrency:${props.FunctionName}`;
  try {
    // On delete the function goes with the stack, or keeps whatever it has: nothing to undo.
    if (event.RequestType === 'Delete') return await respond(event, { status: 'SUCCESS', physicalResourceId });
    const reserved = await applyReservedConcurrency(api, props.FunctionName, Number(props.Wanted));
    await respond(event, { status: 'SUCCESS', physicalResourceId, data: { Reserved: String(reserved) } });
  } catch (err) {
    await respond(event, { status: 'FAILED', reason: (err as Error).message, physicalResourceId });
  }
}
