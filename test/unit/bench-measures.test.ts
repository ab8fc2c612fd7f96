import { componentOf, cpuBetween, cpuSnapshot, msPer } from '../../bench/cpu';
import { MemoryOutbox } from '../../bench/memory-outbox';
import type { LedgerEvent } from '../../lambdas/core/ledger';

/**
 * Issue #17's bench pieces: the in-memory outbox that measures the writer and Fabric without the
 * emulators keeps the outbox port's contract the writer relies on, and the CPU accounting
 * attributes a process's time to it.
 */
const event = (jobId: string): LedgerEvent => ({ type: 'FailJob', jobId, reason: 'test' });

describe('MemoryOutbox', () => {
  it('lists entries oldest first, none twice once taken, and hands taken ones back until marked', async () => {
    const outbox = new MemoryOutbox();
    await outbox.append('j1', [event('j1')], { lane: 'dev-a' });
    await outbox.append('j2', [event('j2')], { lane: 'dev-b', payee: 'acct' });
    await outbox.append('j3', [event('j3')], { lane: 'dev-a' });
    const first = await outbox.waiting(10);
    expect(first.entries.map((e) => e.stream)).toEqual(['j1', 'j2', 'j3']);
    expect(first.entries[1]).toMatchObject({ lane: 'dev-b', payee: 'acct' });

    const taken = await outbox.take(first.entries.slice(0, 2));
    expect(taken.map((e) => e.stream)).toEqual(['j1', 'j2']);
    expect((await outbox.waiting(10)).entries.map((e) => e.stream)).toEqual(['j3']);
    // An entry already taken is not taken again (a stale read).
    expect(await outbox.take(first.entries)).toEqual([first.entries[2]]);
    expect((await outbox.recover()).map((e) => e.stream)).toEqual(['j1', 'j2', 'j3']);

    await outbox.markDone(taken);
    await outbox.markRejected(first.entries[2]!, 'refused');
    expect(await outbox.recover()).toEqual([]);
    expect(outbox.rejected).toEqual([{ entry: first.entries[2], error: 'refused' }]);
  });

  it('reads at most `limit` per lane and says up to where the read is complete', async () => {
    const outbox = new MemoryOutbox();
    for (let i = 0; i < 3; i++) await outbox.append(`a${i}`, [event(`a${i}`)], { lane: 'dev-a' });
    await outbox.append('b0', [event('b0')], { lane: 'dev-b' });
    const page = await outbox.waiting(2);
    expect(page.entries.map((e) => e.stream).sort()).toEqual(['a0', 'a1', 'b0']);
    // dev-a has an unread entry: only entries up to its last read one are known to be in order.
    expect(page.horizon).toBe(page.entries.find((e) => e.stream === 'a1')?.enqueuedAt);
    expect((await outbox.waiting(5)).horizon).toBeUndefined();
  });
});

describe('cpuBetween', () => {
  it("attributes this process's CPU time to the component named for it", () => {
    const before = cpuSnapshot();
    const until = Date.now() + 300;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const used = cpuBetween(before, cpuSnapshot(), 'me');
    expect(x).toBeGreaterThan(0);
    expect(used.seconds.me).toBeGreaterThan(0.2);
    expect(used.seconds.me).toBeLessThan(used.wallSeconds * 2 + 0.05);
    expect(used.busyShare).toBeGreaterThan(0);
    expect(used.busyShare).toBeLessThanOrEqual(1);
  });
});

describe('msPer', () => {
  it('turns CPU seconds into ms per unit of work, largest first', () => {
    expect(Object.entries(msPer({ peer: 0.5, dynamo: 1.5, writer: 0.25 }, 1000))).toEqual([
      ['dynamo', 1.5],
      ['peer', 0.5],
      ['writer', 0.25],
    ]);
    expect(msPer({ peer: 1 }, 3)).toEqual({ peer: 333.33 });
  });
});

describe('componentOf', () => {
  it('names the emulators, the Fabric processes and the engine by their command lines', () => {
    expect(componentOf('java -Djava.library.path=x -jar DynamoDBLocal.jar -inMemory')).toBe('dynamodbLocal');
    expect(componentOf('/usr/local/bin/node /x/node_modules/fauxqs/dist/cli.js')).toBe('fauxqs');
    expect(componentOf('/opt/fabric/peer node start')).toBe('peer');
    expect(componentOf('/opt/fabric/orderer')).toBe('orderer');
    expect(componentOf('node /x/chaincode/dist/run.js --peer.address 127.0.0.1:7051')).toBe('chaincode');
    expect(componentOf('dockerd')).toBe('dockerEngine');
    expect(componentOf('node dist/bench/settlement-producer.js /tmp/p.json')).toBeUndefined();
  });
});
