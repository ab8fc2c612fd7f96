import { ApiError, describeError, FunctionRecord, FunctionSpec, JobView, TERMINAL_STATUSES, waitForJob } from '../client';
import { alertBox, announce, busy, clear, confirmButton, copyButton, facts, field, h, notice, table } from '../dom';
import { clearFormError, showFieldError, showFormError } from '../forms';
import { credits, parseCredits, phaseText, priceText, when } from '../format';
import { hashOf, link, PageContext, pageTitle, refreshEvery } from '../app';
import { followCost, jobOutcome } from './outcome';
import { schemaForm } from '../schema-form';
import type { InputSchemaNode } from '../../../contract/src/input-schema';

/** Functions: list and search, add, edit (a new version), delete, invoke keys, test-invoke. */

export async function functionsPage(ctx: PageContext): Promise<Node> {
  let { items } = await ctx.api.listFunctions();
  const examples = items.length === 0 ? await examplesPanel(ctx) : null;
  const search = h('input', { type: 'search', id: 'function-search', value: ctx.query.get('q') ?? '', placeholder: 'name, id, image or digest prefix' });
  const results = h('div', { id: 'function-results' });
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = items.filter((f) => !q || matches(f, q));
    clear(
      results,
      h('p', { class: 'count', role: 'status' }, q ? `${shown.length} of ${items.length} functions match “${search.value.trim()}”.` : `${items.length} functions.`),
      table(
        'Your functions',
        ['Name', 'Version', 'Image', 'Resources', 'Mode', 'Price cap (credits)', 'Updated'],
        shown.map((f) => [
          link(`#/functions/${f.functionId}`, f.name),
          `v${f.version}`,
          h('code', { title: f.image }, shortImage(f.image)),
          `${f.resources.vcpu} vCPU, ${f.resources.memoryMb} MB, ${f.resources.timeoutS} s`,
          `${f.mode}, ${f.protocol}`,
          credits(f.maxPrice),
          when(f.updatedAt),
        ]),
        { captionHidden: true, empty: items.length ? 'No function matches.' : 'You have no functions yet. Add one to run it on the volunteers’ machines.' },
      ),
    );
  };
  search.addEventListener('input', render);
  render();
  // The list refreshes by itself (a function added from the CLI appears); redrawn only when it
  // changed, keeping the search and the focused link.
  const updated = h('p', { class: 'hint', id: 'functions-updated', role: 'status' });
  refreshEvery(
    ctx,
    REFRESH_MS,
    items,
    async () => (await ctx.api.listFunctions()).items,
    (next) => {
      const focused = results.contains(document.activeElement) ? (document.activeElement as HTMLElement).getAttribute('href') : null;
      items = next;
      render();
      if (focused) (results.querySelector(`a[href="${CSS.escape(focused)}"]`) as HTMLElement | null)?.focus();
      if (items.length > 0) examples?.remove();
      updated.textContent = `Updated ${when(new Date().toISOString())}; this list refreshes by itself.`;
    },
    (err) => (updated.textContent = `Could not refresh the list: ${describeError(err)}`),
  );
  return h(
    'section',
    {},
    pageTitle('Functions', h('a', { class: 'button primary', href: '#/functions/new' }, 'Add a function')),
    examples,
    h('div', { class: 'toolbar', role: 'search' }, field('Search functions', search)),
    updated,
    results,
  );
}

const REFRESH_MS = 5000;

/** The examples offered on an empty Functions page: what each does, and how it is run. */
const EXAMPLES: { name: string; what: string; protocol: 'stdio' | 'http' }[] = [
  { name: 'sha256', what: 'hashes its input and prints {"sha256", "bytes", "words"}', protocol: 'stdio' },
  { name: 'sleep', what: 'sleeps the seconds it is given; "8 tick" also writes a line a second to its log', protocol: 'stdio' },
  { name: 'echo-http', what: 'an HTTP function (POST /invoke) that answers with the request body', protocol: 'http' },
];

/**
 * On an empty Functions page, the platform's example images (those `/config.json` names: the
 * local platform pushes them to its registry; a deployment names none, and then nothing is
 * offered), each registered with one click as a function of the same name, pinned by digest.
 */
async function examplesPanel(ctx: PageContext): Promise<HTMLElement | null> {
  const images = await fetch('/config.json', { cache: 'no-store' })
    .then(async (r) => (r.ok ? (((await r.json()) as { examples?: Record<string, string> }).examples ?? {}) : {}))
    .catch(() => ({}) as Record<string, string>);
  const offered = EXAMPLES.filter((e) => typeof images[e.name] === 'string');
  if (offered.length === 0) return null;
  const message = h('div', { 'aria-live': 'polite' });
  return h(
    'section',
    { class: 'panel', id: 'examples', 'aria-labelledby': 'examples-title' },
    h('h2', { id: 'examples-title' }, 'Start from an example'),
    h('p', { class: 'hint' }, 'Images this platform holds in its registry. One click adds it as a function (0.5 vCPU, 64 MB, 30 s); try it on its page.'),
    table(
      'Examples',
      ['Example', 'What it does', 'Image', ''],
      offered.map((e) => {
        const image = images[e.name] as string;
        const add = h('button', { type: 'button', class: 'small', id: `add-example-${e.name}` }, `Add ${e.name}`);
        add.addEventListener('click', async () => {
          add.disabled = true;
          try {
            const fn = await ctx.api.createFunction({ name: e.name, image, protocol: e.protocol, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 30 } });
            announce(`Added ${fn.name}.`);
            ctx.navigate(`#/functions/${fn.functionId}`);
          } catch (err) {
            add.disabled = false;
            clear(message, alertBox(describeError(err)));
          }
        });
        return [e.name, e.what, h('code', { title: image }, shortImage(image)), add];
      }),
      { captionHidden: true },
    ),
    message,
  );
}

/**
 * The search: name, id, or the image's repository. The digest is matched only by a query of at
 * least 7 hex digits (a digest prefix), so that "sha" does not match every `@sha256:` image.
 */
function matches(f: FunctionRecord, q: string): boolean {
  const at = f.image.indexOf('@');
  const repository = (at < 0 ? f.image : f.image.slice(0, at)).toLowerCase();
  const digest = at < 0 ? '' : f.image.slice(at + 1).replace(/^sha256:/, '').toLowerCase();
  return f.name.toLowerCase().includes(q) || f.functionId.toLowerCase().includes(q) || repository.includes(q) || (/^[0-9a-f]{7,}$/.test(q) && digest.includes(q));
}

export function newFunctionPage(ctx: PageContext): Node {
  return h('section', {}, pageTitle('Add a function'), functionForm(ctx, undefined));
}

export async function editFunctionPage(ctx: PageContext): Promise<Node> {
  const fn = await ctx.api.getFunction(ctx.params.functionId as string);
  if (fn.deletedAt) return h('section', {}, pageTitle(`Edit ${fn.name}`), alertBox(`This function was deleted at ${when(fn.deletedAt)}; it can no longer be changed.`));
  return h(
    'section',
    {},
    pageTitle(`Edit ${fn.name}`),
    h('p', {}, `Saving writes version ${fn.version + 1}. Jobs already created keep the version they were created with.`),
    functionForm(ctx, fn),
  );
}

/** The add/edit form. Every control names its API field (data-field) so the API's errors land next to it. */
function functionForm(ctx: PageContext, existing: FunctionRecord | undefined): HTMLFormElement {
  const v = existing;
  const name = h('input', { name: 'name', required: true, 'data-field': 'name', value: v?.name ?? '', autocomplete: 'off', spellcheck: 'false' });
  const image = h('input', { name: 'image', required: true, 'data-field': 'image', value: v?.image ?? '', autocomplete: 'off', spellcheck: 'false', class: 'wide' });
  const vcpu = h('input', { name: 'vcpu', type: 'number', step: '0.1', min: '0.1', max: '8', required: true, 'data-field': 'resources.vcpu', value: v?.resources.vcpu ?? 0.5 });
  const memory = h('input', { name: 'memoryMb', type: 'number', step: '1', min: '16', max: '16384', required: true, 'data-field': 'resources.memoryMb', value: v?.resources.memoryMb ?? 128 });
  const timeout = h('input', { name: 'timeoutS', type: 'number', step: '1', min: '1', max: '900', required: true, 'data-field': 'resources.timeoutS', value: v?.resources.timeoutS ?? 10 });
  const disk = h('input', { name: 'diskMb', type: 'number', step: '1', min: '1', max: '65536', required: true, 'data-field': 'resources.diskMb', value: v?.resources.diskMb ?? 64 });
  const description = h('textarea', { name: 'description', rows: 2, 'data-field': 'description', maxlength: '1000' }, v?.description ?? '');
  const inputSchema = h('textarea', { name: 'inputSchema', rows: 6, 'data-field': 'inputSchema', spellcheck: 'false', class: 'mono' }, v?.inputSchema ? JSON.stringify(v.inputSchema, null, 2) : '');
  const protocol = select('protocol', 'protocol', [
    ['stdio', 'stdio — input on stdin, result on stdout'],
    ['http', 'http — the container serves POST /invoke'],
  ], v?.protocol ?? 'stdio');
  const mode = select('mode', 'mode', [
    ['sync', 'sync — the caller waits for the result'],
    ['async', 'async — the caller gets a job id and polls'],
  ], v?.mode ?? 'sync');
  const network = select('network', 'network', [
    ['none', 'none — no network in the container'],
    ['egress', 'egress — the function may reach the internet'],
  ], v?.network ?? 'none');
  const maxPrice = h('input', { name: 'maxPrice', inputmode: 'decimal', 'data-field': 'maxPrice', value: v ? credits(v.maxPrice).replace(/,/g, '') : '', placeholder: 'worst case of the resources' });
  const env = h('textarea', { name: 'env', rows: 4, 'data-field': 'env', spellcheck: 'false', class: 'mono' }, v ? Object.entries(v.env).map(([k, val]) => `${k}=${val}`).join('\n') : '');
  const form = h(
    'form',
    { class: 'card', novalidate: true, id: 'function-form' },
    field('Name', name, 'Lower-case letters, digits and dashes.'),
    field('Image', image, 'Pinned by digest: registry/repository@sha256:<64 hex digits>. Tags are refused (a tag can move; a digest cannot).'),
    field('Description', description, 'What the function does, for whoever calls it.'),
    h(
      'fieldset',
      { class: 'row' },
      h('legend', {}, 'Resources per job'),
      field('vCPU', vcpu),
      field('Memory (MB)', memory),
      field('Disk (MB)', disk, 'Writable scratch space (/tmp).'),
      field('Timeout (s)', timeout),
    ),
    h('div', { class: 'row' }, field('Protocol', protocol), field('Mode', mode), field('Network', network)),
    field('Price cap (credits per job)', maxPrice, 'The most one job may cost. Empty: the worst case of the resources above.'),
    field('Environment', env, 'One NAME=value per line.'),
    field(
      'Input schema (JSON Schema)',
      inputSchema,
      'Optional. A JSON input that does not match is refused before it runs, and test-invoke draws a form from it. Supported: type, properties, required, additionalProperties, items, enum, const, bounds, lengths, title, description, default.',
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, existing ? 'Save new version' : 'Add function'), h('a', { href: existing ? `#/functions/${existing.functionId}` : '#/functions' }, 'Cancel')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormError(form);
    const envVars: Record<string, string> = {};
    for (const [i, line] of env.value.split('\n').entries()) {
      if (!line.trim()) continue;
      const eq = line.indexOf('=');
      if (eq < 1) return showFieldError(form, env, `Environment: line ${i + 1} is not NAME=value.`);
      envVars[line.slice(0, eq).trim()] = line.slice(eq + 1);
    }
    let price: number | undefined;
    if (maxPrice.value.trim()) {
      price = parseCredits(maxPrice.value);
      if (price === undefined || price < 1) return showFieldError(form, maxPrice, 'Price cap: write an amount of credits such as 0.5 or 2 (at most 6 decimals), or leave it empty.');
    }
    const numbers: [HTMLInputElement, string][] = [
      [vcpu, 'vCPU'],
      [memory, 'Memory (MB)'],
      [timeout, 'Timeout (s)'],
      [disk, 'Disk (MB)'],
    ];
    for (const [control, label] of numbers) if (control.value.trim() === '' || !Number.isFinite(Number(control.value))) return showFieldError(form, control, `${label}: enter a number.`);
    let schema: Record<string, unknown> | undefined;
    if (inputSchema.value.trim()) {
      try {
        schema = JSON.parse(inputSchema.value) as Record<string, unknown>;
      } catch (err) {
        return showFieldError(form, inputSchema, `Input schema: this is not valid JSON (${(err as Error).message}).`);
      }
    }
    const spec: FunctionSpec = {
      name: name.value.trim(),
      image: image.value.trim(),
      ...(description.value.trim() ? { description: description.value.trim() } : {}),
      ...(schema !== undefined ? { inputSchema: schema } : {}),
      resources: { vcpu: Number(vcpu.value), memoryMb: Number(memory.value), timeoutS: Number(timeout.value), diskMb: Number(disk.value) },
      protocol: protocol.value as FunctionSpec['protocol'],
      mode: mode.value as FunctionSpec['mode'],
      network: network.value as FunctionSpec['network'],
      env: envVars,
      ...(price !== undefined ? { maxPrice: price } : {}),
    };
    try {
      const saved = await busy(form, () => (existing ? ctx.api.updateFunction(existing.functionId, spec) : ctx.api.createFunction(spec)));
      announce(existing ? `Saved version ${saved.version} of ${saved.name}.` : `Added ${saved.name}.`);
      sessionStorage.setItem('chainfaas.flash', existing ? `Saved version ${saved.version}.` : `Function ${saved.name} added (${saved.functionId}).`);
      ctx.navigate(`#/functions/${saved.functionId}`);
    } catch (err) {
      showFormError(form, err);
    }
  });
  return form;
}

function select(name: string, apiField: string, options: [string, string][], value: string): HTMLSelectElement {
  return h('select', { name, 'data-field': apiField }, ...options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

export function shortImage(image: string): string {
  const at = image.indexOf('@sha256:');
  return at < 0 ? image : `${image.slice(0, at)}@sha256:${image.slice(at + 8, at + 20)}…`;
}

export async function functionPage(ctx: PageContext): Promise<Node> {
  const id = ctx.params.functionId as string;
  const [fn, prices] = await Promise.all([ctx.api.getFunction(id), ctx.api.prices().catch(() => undefined)]);
  const flash = sessionStorage.getItem('chainfaas.flash');
  sessionStorage.removeItem('chainfaas.flash');
  const deleted = fn.deletedAt !== undefined;
  const head = pageTitle(
    fn.name,
    ...(deleted ? [] : [h('a', { class: 'button', href: `#/functions/${fn.functionId}/edit` }, 'Edit'), deleteButton(ctx, fn)]),
  );
  return h(
    'section',
    {},
    head,
    flash ? notice(flash, 'ok') : null,
    deleted ? alertBox(`This function was deleted at ${when(fn.deletedAt)}: it can no longer be invoked. Its jobs stay readable.`) : null,
    facts([
      ['Function id', h('span', {}, h('code', {}, fn.functionId), ' ', copyButton(fn.functionId, 'Copy the function id', 'copy-function-id'))],
      ['Version', `v${fn.version}`],
      ['Description', h('span', { id: 'function-description' }, fn.description ?? 'none')],
      ['Image', h('code', { class: 'break' }, fn.image)],
      ['Resources', `${fn.resources.vcpu} vCPU, ${fn.resources.memoryMb} MB memory, ${fn.resources.diskMb ?? 64} MB disk, ${fn.resources.timeoutS} s timeout`],
      ['Input schema', fn.inputSchema ? h('pre', { class: 'output', id: 'function-input-schema' }, JSON.stringify(fn.inputSchema, null, 2)) : 'none: any input'],
      ['Protocol', fn.protocol],
      ['Mode', fn.mode],
      ['Network', fn.network],
      ['Price', h('span', { id: 'function-price' }, priceText(fn, prices))],
      ['Environment', Object.keys(fn.env).length ? h('code', {}, Object.keys(fn.env).join(', ')) : 'none'],
      ['Created', when(fn.createdAt)],
      ['Updated', when(fn.updatedAt)],
    ]),
    h('p', {}, link(hashOf('/jobs', { functionId: fn.functionId }), `Tasks of ${fn.name}`)),
    deleted ? null : snippets(ctx, fn),
    deleted ? null : testInvoke(ctx, fn),
    await invokeKeys(ctx, fn),
  );
}

/** How to call it from elsewhere: the CLI line and the HTTP request (with an API token or an invoke key), ready to copy. */
function snippets(ctx: PageContext, fn: FunctionRecord): HTMLElement {
  const cli = `chainfaas invoke ${fn.name} -d 'hello'`;
  const curl = [
    `curl -s -X POST ${ctx.api.baseUrl}/functions/${fn.functionId}/invocations \\`,
    `  -H "Authorization: Bearer $CHAINFAAS_TOKEN" -H 'content-type: application/json' \\`,
    `  -d '{"input": "hello"}'`,
  ].join('\n');
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'snippets-title' },
    h('h2', { id: 'snippets-title' }, 'Call it'),
    h('p', {}, 'From the CLI (after chainfaas login):'),
    h('pre', { class: 'output', id: 'snippet-cli' }, cli),
    copyButton(cli, 'Copy the CLI command', 'copy-snippet-cli'),
    h('p', {}, 'Over HTTP, with an API token or an invoke key of this function (a sync call answers the finished job; its result is at resultUrl):'),
    h('pre', { class: 'output', id: 'snippet-curl' }, curl),
    copyButton(curl, 'Copy the curl command', 'copy-snippet-curl'),
  );
}

function deleteButton(ctx: PageContext, fn: FunctionRecord): HTMLElement {
  const button = h('button', { type: 'button', class: 'danger' }, 'Delete');
  const confirmBox = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-label': 'Confirm deletion' });
  button.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'danger' }, `Yes, delete ${fn.name}`);
    const no = h('button', { type: 'button' }, 'Keep it');
    clear(confirmBox, h('p', {}, `Delete ${fn.name}? It can no longer be invoked; its jobs and versions stay readable.`), yes, no);
    confirmBox.hidden = false;
    no.addEventListener('click', () => {
      confirmBox.hidden = true;
      button.focus();
    });
    yes.addEventListener('click', async () => {
      try {
        await busy(confirmBox, () => ctx.api.deleteFunction(fn.functionId));
        sessionStorage.setItem('chainfaas.flash', `Deleted ${fn.name}.`);
        ctx.navigate(`#/functions/${fn.functionId}`);
      } catch (err) {
        confirmBox.querySelectorAll('.alert').forEach((a) => a.remove());
        confirmBox.append(alertBox(describeError(err)));
      }
    });
    yes.focus();
  });
  return h('span', { class: 'inline' }, button, confirmBox);
}

/** Runs the function from the browser with a JSON input and shows the result or the error. */
function testInvoke(ctx: PageContext, fn: FunctionRecord): HTMLElement {
  const input = h('textarea', { id: 'invoke-input', rows: 4, class: 'mono', spellcheck: 'false', 'data-field': 'input' }, fn.inputSchema ? '{}' : '"hello, volunteer computing"');
  const output = h('div', { id: 'invoke-output', 'aria-live': 'polite' });
  const rawField = field('Input (JSON)', input, 'A JSON string is sent to the function as its text; any other JSON value as its JSON.');
  // With an input schema (issue #23): a form drawn from it, and the raw JSON one click away.
  const drawn = fn.inputSchema ? schemaForm(fn.inputSchema as InputSchemaNode) : undefined;
  const raw = h('input', { type: 'checkbox', id: 'invoke-raw' });
  if (drawn) {
    rawField.hidden = true;
    raw.addEventListener('change', () => {
      clearFormError(form);
      if (raw.checked) {
        try {
          input.value = JSON.stringify(drawn.value(), null, 2);
        } catch {
          // A JSON control that does not parse: the raw text starts from what parses.
        }
      } else {
        try {
          drawn.fill(JSON.parse(input.value));
        } catch {
          // Not JSON: the form keeps what it had.
        }
      }
      rawField.hidden = !raw.checked;
      drawn.element.hidden = raw.checked;
    });
  }
  const form = h(
    'form',
    { class: 'card', novalidate: true, id: 'invoke-form' },
    drawn ? drawn.element : null,
    drawn ? h('label', { class: 'inline', for: 'invoke-raw' }, raw, ' Raw JSON') : null,
    rawField,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Run')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormError(form);
    let parsed: unknown;
    if (drawn && !raw.checked) {
      try {
        parsed = drawn.value();
      } catch (err) {
        return showFieldError(form, (err as { control?: HTMLElement }).control ?? form, (err as Error).message);
      }
    } else {
      try {
        parsed = input.value.trim() === '' ? '' : JSON.parse(input.value);
      } catch (err) {
        return showFieldError(form, input, `Input: this is not valid JSON (${(err as Error).message}). Put text in double quotes.`);
      }
    }
    clear(output, h('p', { class: 'progress' }, 'Starting the job…'));
    try {
      const finished = await busy(form, async () => {
        // A short wait: a quick job answers at once; a longer one shows its progress with its id.
        const { body: started } = await ctx.api.invoke(fn.functionId, { input: parsed, waitS: 2 });
        let job: JobView = started;
        if (!TERMINAL_STATUSES.includes(job.status)) {
          const progress = liveProgress(ctx, job);
          clear(output, progress.element);
          try {
            job = (
              await waitForJob(ctx.api, job.jobId, {
                timeoutMs: (fn.resources.timeoutS + 120) * 1000,
                intervalMs: 500,
                signal: ctx.signal,
                onUpdate: progress.update,
              })
            ).job;
          } finally {
            progress.stop();
          }
        }
        clear(output, await jobOutcome(job, { heading: 'Result' }));
        announce(`Job ${job.jobId} ${job.status.toLowerCase()}.`);
        return job;
      });
      const settled = await followCost(ctx.api, finished, output, ctx.signal);
      if (settled.cost !== undefined) announce(`Job ${finished.jobId} cost ${credits(settled.cost)} credits.`);
    } catch (err) {
      clear(output);
      if (err instanceof ApiError) showFormError(form, err);
      else output.append(alertBox(describeError(err)));
    }
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'invoke-title' }, h('h2', { id: 'invoke-title' }, 'Test-invoke'), form, output);
}

/**
 * A running job, live: its id (a link to its page), its phase, the seconds since it was created
 * (counting every second) and, while it is still queued, a Cancel that asks first.
 */
function liveProgress(ctx: PageContext, first: JobView): { element: HTMLElement; update(job: JobView): void; stop(): void } {
  let job = first;
  const text = h('span', { class: 'phase' });
  const clock = h('span', { class: 'elapsed', id: 'invoke-elapsed' });
  const actions = h('span', { class: 'inline' });
  const element = h('div', { class: 'progress', id: 'invoke-progress', role: 'status' }, 'Job ', link(`#/jobs/${job.jobId}`, job.jobId), ' — ', text, ' · ', clock, ' ', actions);
  const tick = () => {
    clock.textContent = `${Math.max(0, Math.floor((Date.now() - Date.parse(job.timings.createdAt)) / 1000))} s`;
    text.textContent = phaseText(job, Date.now());
  };
  const update = (next: JobView) => {
    const was = `${job.status}|${job.progress?.phase}`;
    job = next;
    text.textContent = phaseText(job, Date.now());
    if (job.status === 'QUEUED' && !actions.firstChild)
      actions.append(
        confirmButton('Cancel', `Cancel ${job.jobId}? It will not run, and nothing is charged.`, 'Yes, cancel it', async () => {
          job = await ctx.api.cancelJob(job.jobId);
          announce(`Job ${job.jobId} is ${job.status}.`);
        }, { class: 'danger small', id: 'invoke-cancel' }, 'Keep it queued'),
      );
    if (job.status !== 'QUEUED') actions.replaceChildren();
    if (was !== `${job.status}|${job.progress?.phase}`) announce(`Job ${job.jobId}: ${phaseText(job)}.`);
    tick();
  };
  update(first);
  const timer = window.setInterval(tick, 1000);
  return { element, update, stop: () => window.clearInterval(timer) };
}

/** Invoke keys: let someone else invoke this one function (and read the jobs the key created). */
async function invokeKeys(ctx: PageContext, fn: FunctionRecord): Promise<HTMLElement> {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'keys-title' }, h('h2', { id: 'keys-title' }, 'Invoke keys'));
  const list = h('div', { id: 'key-list' });
  const created = h('div', { id: 'key-created', 'aria-live': 'polite' });
  const refresh = async () => {
    const { items } = await ctx.api.listKeys(fn.functionId);
    clear(
      list,
      table(
        'Invoke keys',
        ['Name', 'Key', 'Created', 'Expires', ''],
        items.map((k) => {
          const label = k.name ?? k.hint;
          const revoke = confirmButton(
            'Revoke',
            `Revoke key ${label}? Callers using it are refused from now on.`,
            `Yes, revoke ${label}`,
            async () => {
              await ctx.api.revokeKey(fn.functionId, k.tokenId);
              announce(`Revoked key ${label}.`);
              clear(created, notice(`Revoked key ${label}. Callers using it are refused from now on.`, 'ok'));
              await refresh();
              (section.querySelector('#key-name') as HTMLElement | null)?.focus();
            },
            { class: 'danger small', 'aria-label': `Revoke key ${label}` },
          );
          return [k.name ?? '(no name)', h('code', {}, k.hint), when(k.createdAt), when(k.expiresAt), revoke];
        }),
        { captionHidden: true, empty: 'No invoke keys. Create one to let a caller invoke this function without your account.' },
      ),
    );
  };
  if (fn.deletedAt) {
    await refresh().catch(() => undefined);
    section.append(list);
    return section;
  }
  const name = h('input', { id: 'key-name', name: 'name', 'data-field': 'name', autocomplete: 'off', placeholder: 'e.g. website' });
  const form = h('form', { class: 'inline-form', novalidate: true }, field('Key name', name), h('button', { type: 'submit' }, 'Create key'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormError(form);
    try {
      const key = await busy(form, () => ctx.api.createKey(fn.functionId, name.value.trim() ? { name: name.value.trim() } : {}));
      const secret = h('code', { class: 'secret', id: 'new-key' }, key.key);
      clear(
        created,
        h(
          'div',
          { class: 'alert ok', role: 'status' },
          h('p', {}, h('strong', {}, 'Copy this key now: it is shown once. '), 'Send it as ', h('code', {}, 'Authorization: Bearer <key>'), '.'),
          secret,
          ' ',
          copyButton(key.key, 'Copy the key', 'copy-new-key'),
        ),
      );
      name.value = '';
      await refresh();
    } catch (err) {
      showFormError(form, err);
    }
  });
  try {
    await refresh();
  } catch (err) {
    clear(list, alertBox(describeError(err)));
  }
  section.append(form, created, list);
  return section;
}
