import { QueueCredentials, refreshingCredentials } from '../../provider-agent/src/queue-credentials';

/** The agent's STS credential cache: fresh ones are reused, near-expiry ones fetched once, failures surface. */
function minted(n: number, expiresAt: number): QueueCredentials {
  return { accessKeyId: `ASIA${n}`, secretAccessKey: `s${n}`, sessionToken: `t${n}`, expiration: new Date(expiresAt) };
}

test('reuses credentials until a quarter of their lifetime (at most 5 minutes) is left, then fetches once for all concurrent callers', async () => {
  let clock = 0;
  let fetches = 0;
  const get = refreshingCredentials(async () => {
    fetches += 1;
    await new Promise((r) => setTimeout(r, 5));
    return minted(fetches, clock + 3600_000);
  }, () => clock);

  const first = await Promise.all([get(), get(), get()]);
  expect(fetches).toBe(1);
  expect(new Set(first.map((c) => c.accessKeyId))).toEqual(new Set(['ASIA1']));
  clock = 3600_000 - 5 * 60_000 - 1; // just before the refresh point of a one-hour credential
  expect((await get()).accessKeyId).toBe('ASIA1');
  clock += 2;
  const again = await Promise.all([get(), get()]);
  expect(fetches).toBe(2);
  expect(again.map((c) => c.accessKeyId)).toEqual(['ASIA2', 'ASIA2']);
});

test('short-lived credentials are refreshed after three quarters of their lifetime', async () => {
  let clock = 1000;
  let fetches = 0;
  const get = refreshingCredentials(async () => minted(++fetches, clock + 8000), () => clock);
  await get();
  clock += 5999;
  expect((await get()).accessKeyId).toBe('ASIA1');
  clock += 2;
  expect((await get()).accessKeyId).toBe('ASIA2');
});

test('a failed fetch is thrown to the caller and the next call tries again', async () => {
  let fail = true;
  const get = refreshingCredentials(async () => {
    if (fail) throw new Error('controller unreachable');
    return minted(1, Date.now() + 3600_000);
  });
  await expect(get()).rejects.toThrow('controller unreachable');
  fail = false;
  expect((await get()).accessKeyId).toBe('ASIA1');
});
