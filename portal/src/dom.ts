import { describeError } from './client';

/**
 * A few DOM helpers instead of a framework. Text always goes in as text nodes (never innerHTML),
 * so nothing the API returns can inject markup.
 */

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | undefined | null | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    else if (key === 'class') el.className = String(value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let idCounter = 0;
export const uid = (prefix: string) => `${prefix}-${++idCounter}`;

/** Announces a message to screen readers through the page's polite live region. */
export function announce(message: string): void {
  const region = document.getElementById('status');
  if (!region) return;
  region.textContent = '';
  window.setTimeout(() => (region.textContent = message), 50);
}

/** An error box (role=alert: read out at once). */
export function alertBox(message: string): HTMLElement {
  return h('div', { class: 'alert error', role: 'alert' }, message);
}

export function notice(message: string, kind: 'ok' | 'info' = 'info'): HTMLElement {
  return h('div', { class: `alert ${kind}`, role: 'status' }, message);
}

/** A labelled form field; `hint` and the error slot are tied to the control with aria-describedby. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  const id = control.id || uid('f');
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl, errorEl);
}

/** A table with a caption and header cells scoped to their columns; scrolls sideways on a narrow screen. */
export function table(caption: string, headers: string[], rows: Child[][], options: { captionHidden?: boolean; empty?: string } = {}): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, options.empty ?? 'Nothing yet.');
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      {},
      h('caption', { class: options.captionHidden ? 'sr-only' : undefined }, caption),
      h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', { scope: 'col' }, t)))),
      // data-label: on a narrow screen each row becomes a card of label/value lines (styles.css).
      h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((c, i) => (i === 0 ? h('th', { scope: 'row', 'data-label': headers[i] ?? '' }, c) : h('td', { 'data-label': headers[i] ?? '' }, c)))))),
    ),
  );
}

/** A definition list of label → value pairs (job details, account summary). */
export function facts(pairs: [string, Child][]): HTMLElement {
  return h('dl', { class: 'facts' }, ...pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status.toLowerCase()}` }, status);
}

/** Disables a form's controls while `work` runs, and re-enables them after. */
export async function busy<T>(form: HTMLElement, work: () => Promise<T>): Promise<T> {
  const controls = Array.from(form.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input, select, textarea'));
  const before = controls.map((c) => c.disabled);
  controls.forEach((c) => (c.disabled = true));
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    controls.forEach((c, i) => (c.disabled = before[i] ?? false));
    form.removeAttribute('aria-busy');
  }
}

/**
 * A button that asks before it acts: the first press shows the question with a "yes" and a "no"
 * next to it (the "yes" takes the focus); only the "yes" runs `act`. Used for everything that
 * cannot be undone: deleting a function, revoking a token or a key, cancelling a job.
 */
export function confirmButton(
  label: string,
  question: string,
  yesLabel: string,
  act: (box: HTMLElement) => Promise<void>,
  attrs: Attrs = {},
  noLabel = 'Keep it',
): HTMLElement {
  const button = h('button', { type: 'button', class: 'danger', ...attrs }, label);
  const box = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-label': `Confirm: ${label}` });
  button.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'danger confirm-yes' }, yesLabel);
    const no = h('button', { type: 'button', class: 'confirm-no' }, noLabel);
    clear(box, h('p', {}, question), yes, no);
    box.hidden = false;
    no.addEventListener('click', () => {
      box.hidden = true;
      button.focus();
    });
    yes.addEventListener('click', async () => {
      box.querySelectorAll('.alert').forEach((a) => a.remove());
      try {
        await busy(box, () => act(box));
      } catch (err) {
        box.append(alertBox(describeError(err)));
      }
    });
    yes.focus();
  });
  return h('span', { class: 'inline' }, button, box);
}

/** Copies `text` to the clipboard; says so next to itself (and to screen readers). */
export function copyButton(text: string, label: string, id?: string): HTMLElement {
  const said = h('span', { class: 'copied hint', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'small copy', id, 'aria-label': label }, 'Copy');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      said.textContent = ' Copied.';
    } catch {
      said.textContent = ' Could not copy: select the text and copy it.';
    }
  });
  return h('span', { class: 'copy-wrap' }, button, said);
}
