import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';

/**
 * What the local platform provisions again after the SQS + S3 emulator restarted with nothing
 * (fauxqs is in memory): the shared dead-letter queue and one queue per registered provider, with
 * the same names (so the same URLs the agents poll) and the attributes registration gives them
 * (`SqsProviderQueues#createQueue`). The messages they held are lost; the reaper re-drives their
 * jobs when the leases lapse. Returns how many provider queues it created.
 */
export async function reprovisionQueues(endpoint: string, prefix: string): Promise<number> {
  const sqs = new SQSClient({ endpoint, region: process.env.AWS_REGION ?? 'us-east-1' });
  try {
    // The adapter remembers the dead-letter queue's ARN and would not create it again.
    await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}dlq`, Attributes: { MessageRetentionPeriod: '1209600' } }));
  } finally {
    sqs.destroy();
  }
  // Imported here: the adapters read the emulators' endpoints from the environment the platform set.
  const { depsFromEnv } = await import('../lambdas/adapters/deps');
  const deps = depsFromEnv();
  const providers = await deps.providers.listProviders();
  for (const provider of providers) await deps.queues.createQueue(provider.providerId);
  return providers.length;
}
