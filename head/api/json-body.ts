/**
 * The REST API's application/json parser: fastify's own (secure-json-parse, so `__proto__` and
 * `constructor.prototype` keys stay refused), then a duplicate-key check on the same text.
 * JSON.parse keeps the last of two equal keys, so `{"trainer":{"kind":"logreg","kind":"yolov5"}}`
 * would mean whatever the last writer chose while a proxy or a log reader sees the first:
 * such a body is a 400 FLO_VALIDATION naming the key's path (`body.trainer.kind`). The check
 * walks the AST of @humanwhocodes/momoa (a strict JSON parser that keeps every member).
 */
import type { FastifyInstance } from 'fastify';
import { parse as parseAst, type ValueNode } from '@humanwhocodes/momoa';
import { FlotillaError } from '../../shared/errors.ts';

/** The path (`trainer.kind`, `items.2.name`) of the first key that appears twice in one object, if any. */
export function duplicateKey(text: string): string | undefined {
  let root: ValueNode;
  try {
    root = parseAst(text, { mode: 'json' }).body;
  } catch (e) {
    // the text already passed JSON.parse: momoa's recursive descent ran out of stack
    throw new FlotillaError('FLO_VALIDATION', `body: nested too deeply (${(e as Error).message})`, {
      details: [{ field: 'body', message: 'nested too deeply' }],
    });
  }
  const pending: { node: ValueNode; path: string[] }[] = [{ node: root, path: [] }];
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { node, path } = item;
    if (node.type === 'Array') node.elements.forEach((el, i) => pending.push({ node: el.value, path: [...path, String(i)] }));
    if (node.type !== 'Object') continue;
    const seen = new Set<string>();
    for (const m of node.members) {
      const key = m.name.type === 'String' ? m.name.value : m.name.name;
      if (seen.has(key)) return [...path, key].join('.');
      seen.add(key);
      pending.push({ node: m.value, path: [...path, key] });
    }
  }
  return undefined;
}

/** Replaces fastify's application/json parser with one that also refuses duplicate keys. */
export function registerJsonBody(app: FastifyInstance): void {
  const base = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    base(req, body as string, (err, value) => {
      if (err) return done(err, undefined);
      try {
        const dup = duplicateKey(body as string);
        if (dup === undefined) return done(null, value);
        const field = `body.${dup}`;
        done(
          new FlotillaError('FLO_VALIDATION', `invalid request: ${field}: duplicate key`, {
            details: [{ field, message: 'duplicate key' }],
          }),
          undefined,
        );
      } catch (e) {
        done(e as Error, undefined);
      }
    });
  });
}
