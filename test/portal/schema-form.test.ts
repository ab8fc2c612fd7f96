import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startPlatform, Platform } from '../../local/platform';
import { Api, newUser } from '../support/api';
import { Browser, buildPortal, launchBrowser, openAs, screenshot } from './browser';

/**
 * Issue #23 in Chromium against the whole local platform (one provider agent on Docker): a
 * function with a description and an input schema. Its page shows both; test-invoke draws a
 * form from the schema (a number per integer, a select for an enum, a checkbox for a boolean,
 * required marked); the controller's 400 naming a path lands on that path's control; a filled
 * form runs the function with exactly that JSON; the raw JSON is one click away and drives the
 * form back.
 */
let platform: Platform;
let browser: Browser;
let page: Page;
let portal: string;

beforeAll(async () => {
  buildPortal();
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-schema-form-')), log: () => undefined });
  portal = `${platform.apiUrl}/portal/`;
  browser = await launchBrowser();
  page = browser.page;
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
}, 60_000);

test('test-invoke renders a form from the input schema; errors name the field; the form sends exactly its JSON; raw JSON stays available', async () => {
  const api = new Api(platform.apiUrl);
  const dev = await newUser(api, ['developer']);
  const created = await dev.api.post('/functions', {
    name: 'adder',
    image: platform.images.sha256,
    description: 'Adds two integers, quickly or carefully.',
    inputSchema: {
      type: 'object',
      properties: {
        num1: { type: 'integer', title: 'First number', description: 'any integer' },
        num2: { type: 'integer', minimum: 0 },
        mode: { type: 'string', enum: ['fast', 'careful'] },
        verbose: { type: 'boolean' },
      },
      required: ['num1', 'num2'],
      additionalProperties: false,
    },
    resources: { vcpu: 0.25, memoryMb: 64, timeoutS: 30, diskMb: 32 },
  });
  expect(created.status).toBe(201);
  const fn = created.body;
  const session = { token: (dev.api as unknown as { token: string }).token, email: dev.email };
  await openAs(page, portal, session, `#/functions/${fn.functionId}`, 'adder');

  // The page shows the description, the disk and the schema.
  await expect(page.textContent('#function-description')).resolves.toBe('Adds two integers, quickly or carefully.');
  await expect(page.textContent('main')).resolves.toContain('32 MB disk');
  expect(JSON.parse((await page.textContent('#function-input-schema')) ?? '')).toEqual(fn.inputSchema);

  // The form: one control per property, typed, required marked; the raw JSON hidden.
  const form = '#invoke-schema-form';
  await expect(page.getAttribute(`${form} [data-field="input.num1"]`, 'type')).resolves.toBe('number');
  await expect(page.getAttribute(`${form} [data-field="input.num1"]`, 'step')).resolves.toBe('1');
  await expect(page.getAttribute(`${form} [data-field="input.num1"]`, 'required')).resolves.toBe('');
  await expect(page.getAttribute(`${form} [data-field="input.num2"]`, 'min')).resolves.toBe('0');
  await expect(page.getAttribute(`${form} [data-field="input.mode"]`, 'required')).resolves.toBeNull();
  await expect(page.locator(`${form} select[data-field="input.mode"] option`).allTextContents()).resolves.toEqual(['(none)', 'fast', 'careful']);
  await expect(page.getAttribute(`${form} [data-field="input.verbose"]`, 'type')).resolves.toBe('checkbox');
  // In the schema's order (the record keeps the schema as written).
  await expect(page.locator(`${form} label`).allTextContents()).resolves.toEqual(['First number *', 'num2 *', 'mode', 'verbose']);
  expect(await page.isVisible('#invoke-input')).toBe(false);

  // A required field left empty: the controller's 400 names input.num1 and the portal marks that control.
  await page.fill(`${form} [data-field="input.num2"]`, '3');
  await page.click('#invoke-form button[type=submit]');
  await page.waitForSelector(`${form} [data-field="input.num1"][aria-invalid="true"]`);
  await expect(page.locator('#invoke-form .form-error').textContent()).resolves.toContain('input.num1');
  await screenshot(page, 'schema-form-error');

  // Filled: the function receives exactly the form's JSON (the sha256 example hashes its input).
  await page.fill(`${form} [data-field="input.num1"]`, '2');
  await page.selectOption(`${form} [data-field="input.mode"]`, 'careful');
  await page.check(`${form} [data-field="input.verbose"]`);
  await page.click('#invoke-form button[type=submit]');
  await page.waitForSelector('#outcome .status-succeeded', { timeout: 90_000 });
  const sent = JSON.stringify({ num1: 2, num2: 3, mode: 'careful', verbose: true });
  expect(JSON.parse((await page.textContent('#result-text')) ?? '')).toMatchObject({ sha256: createHash('sha256').update(sent).digest('hex') });
  await screenshot(page, 'schema-form-result');

  // Raw JSON: the form's value, editable; back to the form, it fills the controls.
  await page.check('#invoke-raw');
  expect(await page.isVisible('#invoke-input')).toBe(true);
  expect(await page.isVisible(form)).toBe(false);
  expect(JSON.parse(await page.inputValue('#invoke-input'))).toEqual(JSON.parse(sent));
  await page.fill('#invoke-input', JSON.stringify({ num1: 7, num2: 8, mode: 'fast', verbose: false }));
  await page.uncheck('#invoke-raw');
  await expect(page.inputValue(`${form} [data-field="input.num1"]`)).resolves.toBe('7');
  await expect(page.inputValue(`${form} [data-field="input.mode"]`)).resolves.toBe('fast');
  await expect(page.isChecked(`${form} [data-field="input.verbose"]`)).resolves.toBe(false);
}, 240_000);
