import type { InputSchemaNode } from '../../contract/src/input-schema';
import { field, h } from './dom';

/**
 * A form drawn from a function's input schema (issue #23; the subset of contract/src/input-schema.ts):
 * one control per property, by type — text (a select for an enum), number (integer: step 1, with
 * the schema's bounds), a checkbox for a boolean, a fieldset for a nested object, JSON text for an
 * array or an untyped value. Required properties are marked and `required`. Every control names
 * its input path in `data-field` (`input.num1`), so the controller's 400 naming a path lands next
 * to it (forms.ts). The portal does not check the schema itself: the controller does, with ajv.
 */
export interface SchemaForm {
  element: HTMLElement;
  /** The input the controls describe; throws an Error naming the control when a JSON control does not parse. */
  value(): unknown;
  /** Fills the controls from a value (what the raw JSON held). */
  fill(value: unknown): void;
}

type Control = { read(): { set: boolean; value?: unknown }; write(value: unknown): void };

export function schemaForm(schema: InputSchemaNode): SchemaForm {
  const root = h('div', { class: 'schema-form', id: 'invoke-schema-form' });
  const control = build(schema, 'input', schema.title ?? 'Input', true, root);
  return {
    element: root,
    value: () => control.read().value ?? null,
    fill: (value) => control.write(value),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function build(node: InputSchemaNode, path: string, label: string, required: boolean, into: HTMLElement): Control {
  const hint = [node.description, node.type ? `${node.type}${required ? ', required' : ''}` : undefined].filter(Boolean).join(' — ');
  const text = `${label}${required ? ' *' : ''}`;
  if (node.type === 'object' && node.properties) {
    const set = h('fieldset', { class: 'schema-object', 'data-path': path }, h('legend', {}, text));
    if (node.description) set.append(h('p', { class: 'hint' }, node.description));
    into.append(set);
    const children = Object.entries(node.properties).map(([name, sub]) => {
      const child = build(sub, `${path}.${name}`, sub.title ?? name, node.required?.includes(name) ?? false, set);
      return [name, child] as const;
    });
    return {
      read: () => {
        const out: Record<string, unknown> = {};
        for (const [name, child] of children) {
          const r = child.read();
          if (r.set) out[name] = r.value;
        }
        return { set: true, value: out };
      },
      write: (value) => {
        for (const [name, child] of children) child.write(isObject(value) ? value[name] : undefined);
      },
    };
  }
  if (node.type === 'boolean') {
    const box = h('input', { type: 'checkbox', 'data-field': path, name: path });
    into.append(field(text, box, hint || undefined));
    return { read: () => ({ set: true, value: box.checked }), write: (v) => (box.checked = v === true) };
  }
  if (node.type === 'string' && node.enum) {
    const options = ['', ...node.enum.map(String)];
    const select = h('select', { 'data-field': path, name: path, required }, ...options.map((o) => h('option', { value: o }, o === '' ? '(none)' : o)));
    into.append(field(text, select, hint || undefined));
    return {
      read: () => (select.value === '' ? { set: false } : { set: true, value: select.value }),
      write: (v) => (select.value = typeof v === 'string' ? v : ''),
    };
  }
  if (node.type === 'string') {
    const input = h('input', {
      type: 'text',
      'data-field': path,
      name: path,
      required,
      ...(node.maxLength !== undefined ? { maxlength: String(node.maxLength) } : {}),
      ...(node.minLength !== undefined ? { minlength: String(node.minLength) } : {}),
      autocomplete: 'off',
    });
    into.append(field(text, input, hint || undefined));
    return {
      // An empty optional string is left out; an empty required one is sent, so the controller names it.
      read: () => (input.value === '' && !required ? { set: false } : { set: true, value: input.value }),
      write: (v) => (input.value = typeof v === 'string' ? v : ''),
    };
  }
  if (node.type === 'integer' || node.type === 'number') {
    const input = h('input', {
      type: 'number',
      'data-field': path,
      name: path,
      required,
      step: node.type === 'integer' ? '1' : 'any',
      ...(node.minimum !== undefined ? { min: String(node.minimum) } : {}),
      ...(node.maximum !== undefined ? { max: String(node.maximum) } : {}),
    });
    into.append(field(text, input, hint || undefined));
    return {
      read: () => (input.value.trim() === '' ? { set: false } : { set: true, value: Number(input.value) }),
      write: (v) => (input.value = typeof v === 'number' ? String(v) : ''),
    };
  }
  // Arrays, untyped values, null: JSON text.
  const area = h('textarea', { 'data-field': path, name: path, rows: 2, class: 'mono', spellcheck: 'false', required });
  into.append(field(text, area, [hint, 'JSON'].filter(Boolean).join(' — ')));
  return {
    read: () => {
      if (area.value.trim() === '') return { set: false };
      try {
        return { set: true, value: JSON.parse(area.value) as unknown };
      } catch (err) {
        throw Object.assign(new Error(`${label}: this is not valid JSON (${(err as Error).message}).`), { control: area });
      }
    },
    write: (v) => (area.value = v === undefined ? '' : JSON.stringify(v)),
  };
}
