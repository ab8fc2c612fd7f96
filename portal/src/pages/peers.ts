import { describeError, JoinBundle, PeerEnrolment, PeerView } from '../client';
import { alertBox, announce, busy, facts, field, h, notice, table } from '../dom';
import { when } from '../format';
import { PageContext, pageTitle } from '../app';
import { clearFormError, showFieldError, showFormError } from '../forms';

/**
 * Peer operators: run a peer that joins the platform's Fabric network. The page explains the
 * three steps — make the peer's two keys and their CSRs on your machine (openssl; the keys never
 * leave it), paste the CSRs here (the organisation's CAs sign them), run the join command with the
 * bundle you download — and lists your peers with their status as the network reports it.
 */
export async function peersPage(ctx: PageContext): Promise<Node> {
  const list = h('div', { id: 'peer-list' });
  const result = h('div', { id: 'peer-result' });
  let unavailable: string | undefined;
  const refresh = async () => {
    const peers = await ctx.api.listPeers().catch((err: unknown) => err as Error);
    if (!(peers instanceof Error)) unavailable = peers.enrolmentUnavailable;
    list.replaceChildren(peersTable(ctx, peers, refresh));
  };
  await refresh();
  const enrol = stepTwo(ctx, result, refresh);
  if (unavailable) enrol.querySelectorAll<HTMLInputElement | HTMLButtonElement | HTMLTextAreaElement>('input, textarea, button').forEach((c) => (c.disabled = true));
  return h(
    'section',
    {},
    pageTitle('Peers'),
    // Said first: an operator should not make keys and fill in the form for nothing.
    unavailable ? h('div', { class: 'alert error', role: 'alert', id: 'enrolment-unavailable' }, `No peer can enrol on this platform: ${unavailable.replace(/^this platform's /, 'its ')}`) : null,
    h(
      'p',
      {},
      "Run a peer of the platform's Fabric organisation on your machine: it joins the channel, catches up on the ledger and endorses transactions. ",
      'You need a checkout of the ChainFaaS repository (its ',
      h('code', {}, 'chaincode/network'),
      ' scripts build the Fabric binaries), Go, jq and openssl.',
    ),
    stepOne(),
    enrol,
    result,
    h('section', { class: 'panel', 'aria-labelledby': 'peers-title' }, h('h2', { id: 'peers-title' }, 'Your peers'), list),
  );
}

const KEY_COMMANDS = [
  'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signkey.pem',
  'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tlskey.pem',
  "openssl req -new -key signkey.pem -subj '/CN=peer' -out sign.csr",
  "openssl req -new -key tlskey.pem -subj '/CN=peer' -out tls.csr",
  'chmod 600 signkey.pem tlskey.pem',
].join('\n');

function stepOne(): HTMLElement {
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'step-keys-title' },
    h('h2', { id: 'step-keys-title' }, '1. Make the keys and the certificate requests'),
    h('p', {}, 'In the directory you will run the peer from. The keys stay there: only the two requests (sign.csr, tls.csr) are sent.'),
    h('pre', { class: 'output', id: 'key-commands', tabindex: 0, 'aria-label': 'Commands to make the keys and the requests' }, KEY_COMMANDS),
    h(
      'p',
      { class: 'hint' },
      "The subject you put in a request does not matter: the platform names the peer itself and issues certificates with the organisation's peer role, which can endorse but never submit transactions or administer the channel.",
    ),
  );
}

function stepTwo(ctx: PageContext, result: HTMLElement, refresh: () => Promise<void>): HTMLElement {
  const name = h('input', { name: 'name', required: true, maxlength: 64, autocomplete: 'off', 'data-field': 'name' });
  const endpoint = h('input', {
    name: 'endpoint',
    required: true,
    maxlength: 260,
    placeholder: 'peer.example.org:7051',
    autocomplete: 'off',
    'data-field': 'endpoint',
  });
  const signCsr = h('textarea', { name: 'signCsr', required: true, rows: 6, spellcheck: 'false', 'data-field': 'signCsr' });
  const tlsCsr = h('textarea', { name: 'tlsCsr', required: true, rows: 6, spellcheck: 'false', 'data-field': 'tlsCsr' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Enrol the peer');
  const form = h(
    'form',
    { id: 'peer-form', novalidate: true },
    field('Name', name, 'A name for you to tell your peers apart.'),
    field('Endpoint', endpoint, 'host:port where the peer will listen, as the other peers reach it. It goes into the TLS certificate.'),
    field('Signing CSR (sign.csr)', signCsr, 'Paste the whole file, -----BEGIN CERTIFICATE REQUEST----- included.'),
    field('TLS CSR (tls.csr)', tlsCsr),
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFormError(form);
    // Empty fields are said in words before anything is sent.
    const missing: [HTMLInputElement | HTMLTextAreaElement, string][] = [
      [name, 'Name: give the peer a name, such as my-peer.'],
      [endpoint, 'Endpoint: give host:port where the peer will listen, such as peer.example.org:7051.'],
      [signCsr, 'Signing CSR: paste the whole sign.csr file made in step 1.'],
      [tlsCsr, 'TLS CSR: paste the whole tls.csr file made in step 1.'],
    ];
    const empty = missing.find(([control]) => control.value.trim() === '');
    if (empty) return showFieldError(form, empty[0], empty[1]);
    void busy(form, async () => {
      try {
        const enrolled = await ctx.api.enrolPeer({ name: name.value.trim(), endpoint: endpoint.value.trim(), signCsr: signCsr.value, tlsCsr: tlsCsr.value });
        result.replaceChildren(bundlePanel(enrolled));
        form.reset();
        announce(`Peer ${enrolled.peer.peerId} enrolled. Download its bundle and run the join command.`);
        await refresh();
        (result.querySelector('h2') as HTMLElement | null)?.focus();
      } catch (err) {
        showFormError(form, err);
      }
    });
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'step-enrol-title' }, h('h2', { id: 'step-enrol-title' }, '2. Enrol the peer'), form);
}

/** Step 3: the bundle (download as JSON) and the command that starts the peer. */
function bundlePanel(enrolled: Pick<PeerEnrolment, 'bundle' | 'command'> & { peer: PeerView }): HTMLElement {
  return h(
    'section',
    { class: 'panel', id: 'peer-bundle', 'aria-labelledby': 'step-join-title', 'data-peer': enrolled.peer.peerId },
    h('h2', { id: 'step-join-title', tabindex: -1 }, `3. Start ${enrolled.peer.name} (${enrolled.peer.peerId})`),
    notice('Save the bundle as peer-bundle.json next to your keys, then run, from your ChainFaaS checkout:', 'ok'),
    h('p', {}, downloadLink(enrolled.bundle)),
    h('pre', { class: 'output', id: 'join-command', tabindex: 0, 'aria-label': 'Command that starts the peer' }, enrolled.command),
    h(
      'p',
      { class: 'hint' },
      'Paths are relative to where you run it: pass the full paths of the bundle and the keys if they are elsewhere. The peer fetches the channel from the orderer, joins, installs the chaincode and waits until its ledger has caught up; this page then lists it as joined.',
    ),
  );
}

function downloadLink(bundle: JoinBundle): HTMLAnchorElement {
  const url = URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' }));
  return h('a', { href: url, download: 'peer-bundle.json', id: 'bundle-download', class: 'button' }, 'Download peer-bundle.json');
}

function peersTable(ctx: PageContext, peers: { items: PeerView[]; networkError?: string } | Error, refresh: () => Promise<void>): HTMLElement {
  if (peers instanceof Error) return alertBox(`Your peers could not be read: ${describeError(peers)}`);
  const rows = peers.items.map((p) => {
    const actions = h('div', { class: 'actions' });
    if (p.status !== 'revoked') {
      const bundle = h('button', { type: 'button', 'data-action': 'bundle' }, 'Bundle');
      bundle.addEventListener('click', () => {
        void ctx.api.getPeer(p.peerId).then(
          (detail) => {
            const target = document.getElementById('peer-result');
            if (target && detail.bundle && detail.command)
              target.replaceChildren(bundlePanel({ peer: detail.peer, bundle: detail.bundle, command: detail.command }));
            (target?.querySelector('h2') as HTMLElement | null)?.focus();
          },
          (err: unknown) => announce(describeError(err)),
        );
      });
      const revoke = h('button', { type: 'button', class: 'danger', 'data-action': 'revoke' }, 'Revoke');
      revoke.addEventListener('click', () => {
        if (!window.confirm(`Revoke ${p.name}? The platform stops vouching for it.`)) return;
        void ctx.api.revokePeer(p.peerId).then(
          () => refresh().then(() => announce(`${p.name} revoked`)),
          (err: unknown) => announce(describeError(err)),
        );
      });
      actions.append(bundle, ' ', revoke);
    }
    return [
      h('span', { 'data-peer': p.peerId }, p.name, h('br'), h('code', {}, p.peerId)),
      h('code', {}, p.endpoint),
      h('span', { class: `badge peer-${p.status}`, 'data-status': p.status }, p.statusText),
      when(p.createdAt),
      actions,
    ];
  });
  return h(
    'div',
    {},
    peers.networkError ? alertBox(`The network's own view is unavailable (${peers.networkError}); statuses are what the platform recorded.`) : '',
    table('Your peers', ['Peer', 'Endpoint', 'Status', 'Enrolled', ''], rows, { captionHidden: true, empty: 'No peer enrolled yet.' }),
    peers.items.length
      ? facts([
          [
            'Status',
            'joined (height N of M): the network lists the peer, at block N of the channel’s M. enrolled: not seen in the channel yet. unreachable: seen before, not listed now.',
          ],
        ])
      : '',
  );
}
