import { ApiError, describeError } from './client';
import { alertBox, announce } from './dom';
import { parseCredits } from './format';
import { newReference } from './payments-client';

/**
 * Shows an error on a form: the sentence from describeError in an alert at the top of the form,
 * and, when the API named a field, the same message next to that control (aria-invalid, focused).
 * Controls name the API field they carry with `data-field` (a prefix matches: `env` for `env.X`).
 */
export function showFormError(form: HTMLFormElement, err: unknown): void {
  clearFormError(form);
  const message = describeError(err);
  const box = alertBox(message);
  box.classList.add('form-error');
  form.prepend(box);
  const apiField = err instanceof ApiError ? err.field : undefined;
  const control = apiField ? findControl(form, apiField) : undefined;
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    const slot = form.querySelector<HTMLElement>(`#${CSS.escape(control.id)}-error`);
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
    }
    control.focus();
  } else {
    box.tabIndex = -1;
    box.focus();
  }
  announce(message);
}

/** Marks one control invalid with a message of the portal's own (checks done before calling the API). */
export function showFieldError(form: HTMLFormElement, control: HTMLElement, message: string): void {
  clearFormError(form);
  const box = alertBox(message);
  box.classList.add('form-error');
  form.prepend(box);
  control.setAttribute('aria-invalid', 'true');
  const slot = form.querySelector<HTMLElement>(`#${CSS.escape(control.id)}-error`);
  if (slot) {
    slot.textContent = message;
    slot.hidden = false;
  }
  control.focus();
}

export function clearFormError(form: HTMLFormElement): void {
  form.querySelectorAll('.form-error').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  form.querySelectorAll<HTMLElement>('.field-error').forEach((e) => {
    e.textContent = '';
    e.hidden = true;
  });
}

function findControl(form: HTMLFormElement, apiField: string): HTMLElement | undefined {
  const controls = Array.from(form.querySelectorAll<HTMLElement>('[data-field]'));
  let best: HTMLElement | undefined;
  let bestLength = -1;
  for (const c of controls) {
    const f = c.dataset.field as string;
    if ((apiField === f || apiField.startsWith(`${f}.`)) && f.length > bestLength) {
      best = c;
      bestLength = f.length;
    }
  }
  return best;
}

/**
 * An amount form that moves money once (top-ups, card checkouts, withdrawals). On submit it
 * parses the amount in credits (refusing anything under one micro-credit next to the field),
 * and gives `send` the amount and an idempotency reference. The reference is made once per
 * amount and kept until the API answers definitely: a double click is ignored while a request
 * is out, a retry after a network error or a 5xx reuses it (the API moves money once per
 * reference), a 4xx or a success drops it, and a different amount gets a reference of its own.
 */
export function onAmountSubmit(
  form: HTMLFormElement,
  amount: HTMLInputElement,
  options: { referencePrefix: string; invalid: string; send: (micro: number, reference: string) => Promise<void> },
): void {
  let pending: { amount: number; reference: string } | undefined;
  let running = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (running) return;
    clearFormError(form);
    const micro = parseCredits(amount.value);
    if (micro === undefined || micro < 1) return showFieldError(form, amount, options.invalid);
    if (!pending || pending.amount !== micro) pending = { amount: micro, reference: newReference(options.referencePrefix) };
    const { reference } = pending;
    running = true;
    try {
      await options.send(micro, reference);
      pending = undefined;
    } catch (err) {
      if (err instanceof ApiError && err.status > 0 && err.status < 500) pending = undefined;
      showFormError(form, err);
    } finally {
      running = false;
    }
  });
}
