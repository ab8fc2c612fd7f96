import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange, LocalFabricNetwork, networkScriptsDir, startLocalFabric } from '../../bench/ledger-network';
import { startPlatform, type Platform } from '../../local/platform';
import { Api, newUser } from '../support/api';
import { Browser, buildPortal, launchBrowser, openAs, screenshot, waitForSelectorOrShow } from '../portal/browser';

/**
 * The portal's Peers page (#/peers) in Chromium, against the platform on a real Fabric network:
 * a peer operator reads the openssl commands, runs them, pastes the two CSRs, gets the bundle
 * (downloaded as JSON) and the join command, runs that command, and the page lists the peer as
 * joined at the channel's height. CHAINFAAS_SKIP_FABRIC=1 skips the file.
 */

const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const describeFabric = skip ? describe.skip : describe;

describeFabric('portal: the Peers page on a Fabric platform', () => {
  let net: LocalFabricNetwork;
  let platform: Platform;
  let browser: Browser;
  const work = mkdtempSync(join(tmpdir(), 'chainfaas-peers-portal-'));
  const peerState = join(work, 'peer-state');

  beforeAll(async () => {
    buildPortal();
    net = await startLocalFabric();
    platform = await startPlatform({
      port: 0,
      dataDir: join(work, 'platform'),
      provider: false,
      images: false,
      ledger: { mode: 'fabric', env: net.env },
      log: () => undefined,
    });
    browser = await launchBrowser();
  }, 15 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => execFile(join(networkScriptsDir(), 'down.sh'), [peerState], () => resolve(undefined)));
    await platform?.stop();
    await net?.down();
  }, 120_000);

  it('shows the commands, enrols from pasted CSRs, offers the bundle and the command, and lists the peer as joined', async () => {
    const page = browser.page;
    const api = new Api(platform.apiUrl);
    const operator = await newUser(api, ['peer-operator']);
    const token = (operator.api as unknown as { token: string }).token;
    const portal = `${platform.apiUrl}/portal/`;
    await openAs(page, portal, { token, email: operator.email }, '#/peers', 'Peers');
    expect(await page.locator('nav a:has-text("Peers")').count()).toBe(1);

    // Step 1: the commands, run as shown, in the operator's directory.
    const commands = (await page.locator('#key-commands').textContent()) as string;
    for (const line of commands.split('\n')) execFileSync('sh', ['-c', line], { cwd: work, stdio: 'pipe' });
    await screenshot(page, 'peers-01-steps');

    // Step 2: a bad CSR is refused in place, naming the field; then the real ones.
    const port = await freePortRange(3);
    await page.fill('#peer-form input[name=name]', 'portal peer');
    await page.fill('#peer-form input[name=endpoint]', `127.0.0.1:${port}`);
    await page.fill('#peer-form textarea[name=signCsr]', 'not a request');
    await page.fill('#peer-form textarea[name=tlsCsr]', readFileSync(join(work, 'tls.csr'), 'utf8'));
    await page.click('#peer-form button[type=submit]');
    await waitForSelectorOrShow(page, '#peer-form textarea[name=signCsr][aria-invalid=true]');
    expect(await page.locator('#peer-form .form-error').textContent()).toMatch(/signCsr|request/i);
    await page.fill('#peer-form textarea[name=signCsr]', readFileSync(join(work, 'sign.csr'), 'utf8'));
    await page.click('#peer-form button[type=submit]');
    await waitForSelectorOrShow(page, '#peer-bundle #join-command');
    const command = ((await page.locator('#join-command').textContent()) as string).trim();
    expect(command).toBe(`chaincode/network/join-peer.sh --bundle peer-bundle.json --key signkey.pem --tls-key tlskey.pem --listen 127.0.0.1:${port}`);
    await screenshot(page, 'peers-02-bundle');

    // Step 3: download the bundle next to the keys and run the command from there.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#bundle-download')]);
    expect(download.suggestedFilename()).toBe('peer-bundle.json');
    copyFileSync((await download.path()) as string, join(work, 'peer-bundle.json'));
    const bundle = JSON.parse(readFileSync(join(work, 'peer-bundle.json'), 'utf8'));
    expect(JSON.stringify(bundle)).not.toContain('PRIVATE KEY');
    await new Promise<void>((resolve, reject) =>
      execFile(
        join(networkScriptsDir(), 'join-peer.sh'),
        [...command.split(' ').slice(1), '--state', peerState],
        { cwd: work, env: { ...process.env, FABRIC_WATCH_PID: String(process.pid) } },
        (err, _out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
      ),
    );

    // The list says what the network says: reload until the peer is listed as joined.
    const row = `#peer-list [data-status]`;
    const until = Date.now() + 90_000;
    for (;;) {
      await openAs(page, portal, { token, email: operator.email }, '#/peers', 'Peers');
      const text = await page.locator(row).first().textContent();
      if (/^joined \(height (\d+) of \1\)$/.test(text ?? '')) break;
      if (Date.now() > until) {
        const { FabricDiscovery } = await import('../../lambdas/adapters/fabric-discovery');
        const discovery = new FabricDiscovery(net.options('controller'));
        const members = await discovery.channelPeers().then(
          (peers) => peers.map((p) => `${p.endpoint} h${p.ledgerHeight} ${new X509Certificate(p.certificatePem).subject.replace(/\n/g, ',')}`),
          (err: Error) => err.message,
        );
        discovery.close();
        throw new Error(
          `the page still lists the peer as: ${text}; GET /peers: ${JSON.stringify((await operator.api.get('/peers')).body)}; discovery: ${JSON.stringify(members)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(await page.locator(row).first().getAttribute('data-status')).toBe('joined');
    await screenshot(page, 'peers-03-joined');
    expect(browser.console.filter((l) => l.includes(token))).toEqual([]);
  }, 300_000);
});
