/** Small helpers the generated reference pages share: table cells and JSON-schema field rows. */

/** One table cell: pipes escaped, line breaks folded. */
export function cell(s: unknown): string {
  return String(s ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

export function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join(
    '\n',
  );
}

type Schema = Record<string, any>;

/** A schema's type in words: `integer`, `string (one of a, b)`, `array of object`, `a | b`. */
export function typeOf(s: Schema): string {
  if (!s || typeof s !== 'object') return '';
  if (s.enum)
    return s.enum.length === 1 ? `\`${JSON.stringify(s.enum[0])}\`` : `one of ${s.enum.map((v: unknown) => `\`${v}\``).join(', ')}`;
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return [...new Set(alts.map(typeOf))].join(' | ');
  if (s.type === 'array') return `array of ${typeOf(s.items ?? {}) || 'any'}`;
  if (Array.isArray(s.type)) return s.type.join(' | ');
  return s.type ?? (s.properties ? 'object' : 'any');
}

/** Bounds and patterns of one schema, in words. */
export function constraints(s: Schema): string {
  const out: string[] = [];
  const lo = s.minimum ?? s.exclusiveMinimum,
    hi = s.maximum ?? s.exclusiveMaximum;
  const gt = s.exclusiveMinimum === true || typeof s.exclusiveMinimum === 'number';
  const lt = s.exclusiveMaximum === true || typeof s.exclusiveMaximum === 'number';
  const big = (n: number) => n >= Number.MAX_SAFE_INTEGER;
  if (typeof lo === 'number' && !(lo <= -Number.MAX_SAFE_INTEGER)) out.push(`${gt ? '>' : '≥'} ${lo}`);
  if (typeof hi === 'number' && !big(hi)) out.push(`${lt ? '<' : '≤'} ${hi}`);
  if (s.minLength !== undefined && s.minLength > 0) out.push(`length ≥ ${s.minLength}`);
  if (s.maxLength !== undefined) out.push(`length ≤ ${s.maxLength}`);
  if (s.minItems !== undefined && s.minItems > 0) out.push(`≥ ${s.minItems} items`);
  if (s.maxItems !== undefined) out.push(`≤ ${s.maxItems} items`);
  if (s.maxProperties !== undefined) out.push(`≤ ${s.maxProperties} keys`);
  if (s.pattern) out.push(`matches \`${s.pattern}\``);
  return out.join(', ');
}

export interface FieldRow {
  name: string;
  type: string;
  required: boolean;
  default: string;
  constraints: string;
  description: string;
}

const discriminator = (alts: Schema[]): string | null => {
  const objs = alts.filter((a) => a.type === 'object' && a.properties);
  if (objs.length !== alts.length || objs.length < 2) return null;
  const key = Object.keys(objs[0].properties).find((k) =>
    objs.every((o) => o.properties[k]?.enum?.length === 1 || o.properties[k]?.const !== undefined),
  );
  return key ?? null;
};

/**
 * Every field of an object schema as rows, nested objects flattened to dotted names
 * (`trainer.cfg`), arrays of objects as `faults[].kind`, and a union of objects told apart by a
 * one-value field as one group per value (`trainer (kind yolov5).img`).
 */
export function fieldRows(s: Schema, prefix = '', required = true): FieldRow[] {
  const rows: FieldRow[] = [];
  const alts: Schema[] | undefined = s.anyOf ?? s.oneOf;
  if (alts) {
    const key = discriminator(alts);
    if (key) {
      for (const a of alts) {
        const v = a.properties[key].enum?.[0] ?? a.properties[key].const;
        rows.push(...fieldRows(a, `${prefix} (${key} ${v})`.trimStart(), required));
      }
      return rows;
    }
    const objs = alts.filter((a) => a.type === 'object' && a.properties);
    if (objs.length) {
      alts.forEach((a, i) => rows.push(...fieldRows(a, `${prefix} (form ${i + 1})`.trimStart(), required)));
      return rows;
    }
  }
  if (s.type === 'object' && s.properties) {
    const req = new Set<string>(s.required ?? []);
    for (const [k, sub] of Object.entries<Schema>(s.properties)) {
      const name = prefix ? `${prefix}.${k}` : k;
      const nested =
        (sub.type === 'object' && sub.properties) ||
        ((sub.anyOf ?? sub.oneOf) && (sub.anyOf ?? sub.oneOf).some((a: Schema) => a.type === 'object' && a.properties));
      if (nested) {
        rows.push(...fieldRows(sub, name, req.has(k)));
        continue;
      }
      if (sub.type === 'array' && sub.items?.type === 'object' && sub.items.properties) {
        rows.push(row(name, sub, req.has(k)));
        rows.push(...fieldRows(sub.items, `${name}[]`, true));
        continue;
      }
      rows.push(row(name, sub, req.has(k)));
    }
    return rows;
  }
  if (prefix) rows.push(row(prefix, s, required));
  return rows;
}

function row(name: string, s: Schema, required: boolean): FieldRow {
  return {
    name,
    type: typeOf(s),
    required: required && s.default === undefined,
    default: s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``,
    constraints: constraints(s),
    description: s.description ?? '',
  };
}

export function fieldTable(rows: FieldRow[]): string {
  return table(
    ['field', 'type', 'required', 'default', 'bounds', 'description'],
    rows.map((r) => [`\`${r.name}\``, r.type, r.required ? 'yes' : '', r.default, r.constraints, r.description]),
  );
}
