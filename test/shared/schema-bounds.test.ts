/**
 * Every string and every list in every schema of shared/schemas has a length bound (a
 * maxLength, or an anchored pattern of bounded repeats; a maxItems): an unbounded field lets
 * one REST body or message grow a KV record past what NATS carries. A field added without
 * one fails here, naming it.
 */
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const DIR = join(import.meta.dirname, '../../shared/schemas');

/** Paths of the unbounded strings and arrays in a JSON schema. */
function unbounded(s: unknown, path: string, out: string[]): void {
  if (!s || typeof s !== 'object') return;
  const o = s as Record<string, unknown>;
  if (o.type === 'string' && o.maxLength === undefined && o.enum === undefined && o.const === undefined) {
    const p = typeof o.pattern === 'string' ? o.pattern : undefined;
    // a pattern bounds the length when it is anchored at both ends and repeats nothing without a limit
    if (!p || !p.startsWith('^') || !p.endsWith('$') || /[*+]|\{\d+,\}/.test(p)) out.push(path);
  }
  if (o.type === 'array' && o.maxItems === undefined) out.push(`${path}[]`);
  for (const [k, v] of Object.entries(o)) {
    if (k === 'properties') for (const [pk, pv] of Object.entries(v as object)) unbounded(pv, `${path}.${pk}`, out);
    else if (k === 'items') unbounded(v, `${path}[]`, out);
    else if (k === 'additionalProperties') unbounded(v, `${path}.*`, out);
    else if (k === 'propertyNames') unbounded(v, `${path}.<key>`, out);
    else if (Array.isArray(v)) for (const x of v) unbounded(x, path, out);
    else if (typeof v === 'object') unbounded(v, path, out);
  }
}

t.test('every string and list of every shared schema is bounded', async (t) => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.ts') && f !== 'index.ts');
  let schemas = 0;
  const bad: string[] = [];
  for (const f of files) {
    const mod = (await import(join(DIR, f))) as Record<string, unknown>;
    for (const [name, v] of Object.entries(mod)) {
      if (!(v instanceof z.ZodType)) continue;
      schemas++;
      unbounded(z.toJSONSchema(v, { io: 'input', unrepresentable: 'any' }), `${f.replace(/\.ts$/, '')}.${name}`, bad);
    }
  }
  t.ok(schemas > 30, `${schemas} schemas checked`);
  t.same([...new Set(bad)], [], 'no unbounded string or list (give each a .max() from shared/schemas/bounds.ts)');
});
