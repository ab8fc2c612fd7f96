import { ApiClient, Role } from '../client';
import { busy, copyButton, field, h, notice } from '../dom';
import { clearFormError, showFieldError, showFormError } from '../forms';
import { pageTitle, saveSession } from '../app';

/** Log in and register: the only pages a visitor without a session sees. */

export function loginPage(api: ApiClient, onSignedIn: () => void): Node {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, 'data-field': 'email' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, 'data-field': 'password' });
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true, 'aria-labelledby': 'login-title' },
    field('Email', email),
    field('Password', password),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Log in')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormError(form);
    if (!email.value.trim()) return showFieldError(form, email, 'Email: enter the email you registered with.');
    if (!password.value) return showFieldError(form, password, 'Password: enter your password.');
    try {
      const session = await busy(form, () => api.login(email.value.trim(), password.value));
      saveSession({ token: session.token, email: email.value.trim().toLowerCase() });
      onSignedIn();
    } catch (err) {
      showFormError(form, err);
    }
  });
  const pending = sessionStorage.getItem('chainfaas.notice');
  sessionStorage.removeItem('chainfaas.notice');
  const title = pageTitle('Log in');
  title.querySelector('h1')?.setAttribute('id', 'login-title');
  return h(
    'section',
    {},
    title,
    pending ? notice(pending) : null,
    form,
    h('p', {}, 'New to ChainFaaS? ', h('a', { href: '#/register' }, 'Create an account'), '.'),
  );
}

const ROLE_TEXT: Record<Role, [string, string]> = {
  developer: ['Developer', 'register functions, invoke them, pay for the jobs they run'],
  provider: ['Compute provider', 'run the provider agent on your machine and earn credits for the jobs it runs'],
  'peer-operator': ['Blockchain peer operator', 'run a Hyperledger Fabric peer of the ChainFaaS ledger'],
};

export function registerPage(api: ApiClient, onSignedIn: () => void, onSession: () => void = () => undefined): Node {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, 'data-field': 'email' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 10, 'data-field': 'password' });
  const boxes = (Object.keys(ROLE_TEXT) as Role[]).map((role) => {
    const box = h('input', { type: 'checkbox', name: 'roles', value: role, id: `role-${role}`, checked: role === 'developer' });
    return { role, box, el: h('div', { class: 'check' }, box, h('label', { for: `role-${role}` }, h('strong', {}, ROLE_TEXT[role][0]), ` — ${ROLE_TEXT[role][1]}`)) };
  });
  const rolesSet = h(
    'fieldset',
    { 'data-field': 'roles', id: 'roles', tabindex: -1, 'aria-describedby': 'roles-error' },
    h('legend', {}, 'I am a… (choose one or more)'),
    ...boxes.map((b) => b.el),
    h('p', { class: 'field-error', id: 'roles-error', hidden: true }),
  );
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true },
    field('Email', email),
    field('Password', password, 'At least 10 characters.'),
    rolesSet,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create account')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormError(form);
    const roles = boxes.filter((b) => b.box.checked).map((b) => b.role);
    if (!email.value.trim()) return showFieldError(form, email, 'Email: enter your email address.');
    if (password.value.length < 10) return showFieldError(form, password, 'Password: use at least 10 characters.');
    if (roles.length === 0) return showFieldError(form, rolesSet, 'Roles: choose at least one role.');
    try {
      const created = await busy(form, () => api.register(email.value.trim(), password.value, roles));
      // The portal works on a session of its own; the API token registration returns is the
      // user's, for the CLI and scripts, and is shown once.
      const session = await api.login(email.value.trim(), password.value);
      saveSession({ token: session.token, email: created.user.email });
      onSession();
      const loginLine = `chainfaas login --api-url ${api.baseUrl} --token ${created.token}`;
      const go = h('button', { type: 'button', class: 'primary', id: 'continue' }, 'Continue to the portal');
      go.addEventListener('click', onSignedIn);
      section.replaceChildren(
        pageTitle('Account created'),
        h(
          'div',
          { class: 'alert ok', role: 'status' },
          h('p', {}, `Welcome, ${created.user.email} (${created.user.roles.join(', ')}).`),
          h('p', {}, h('strong', {}, 'Your API token, shown once: '), 'copy it for the ', h('code', {}, 'chainfaas'), ' CLI or the provider agent. You can create more on the Account page.'),
          h('code', { class: 'secret', id: 'api-token' }, created.token),
          ' ',
          copyButton(created.token, 'Copy the token', 'copy-token'),
          h('p', {}, 'To use the CLI, paste this line into a terminal:'),
          h('pre', { class: 'output', id: 'login-line' }, loginLine),
          copyButton(loginLine, 'Copy the login line', 'copy-login-line'),
        ),
        go,
      );
      go.focus();
    } catch (err) {
      showFormError(form, err);
    }
  });
  const section = h('section', {}, pageTitle('Create an account'), form, h('p', {}, 'Already registered? ', h('a', { href: '#/login' }, 'Log in'), '.'));
  return section;
}
