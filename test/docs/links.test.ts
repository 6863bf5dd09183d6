/**
 * Every relative link in README.md and docs/**\/*.md points at a file of this repository (never
 * outside it), and every #anchor at a heading of the page it names.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pages = [
  'README.md',
  ...(readdirSync(join(ROOT, 'docs'), { recursive: true }) as string[]).filter((f) => f.endsWith('.md')).map((f) => join('docs', f)),
];

/** The page's text without fenced code blocks and inline code (links there are examples). */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(md).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/`/g, '')
      .toLowerCase()
      .trim()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

function links(md: string): string[] {
  const text = prose(md);
  return [
    ...[...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/<(?:img|a)\s[^>]*?(?:src|href)="([^"]+)"/g)].map((m) => m[1]!),
  ];
}

t.test('the pages exist', async (t) => {
  t.ok(pages.length > 10, `${pages.length} pages`);
});

for (const page of pages) {
  t.test(page, async (t) => {
    const md = readFileSync(join(ROOT, page), 'utf8');
    let checked = 0;
    for (const link of links(md)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      checked++;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path ? resolve(dirname(join(ROOT, page)), decodeURIComponent(path)) : join(ROOT, page);
      const rel = relative(ROOT, target);
      if (rel.startsWith('..') || rel.startsWith(sep)) {
        t.fail(`${link}: leaves the repository`);
        continue;
      }
      if (!existsSync(target)) {
        t.fail(`${link}: ${rel} does not exist`);
        continue;
      }
      if (anchor && statSync(target).isFile() && target.endsWith('.md')) {
        const known = anchors(readFileSync(target, 'utf8'));
        if (!known.has(anchor)) {
          t.fail(`${link}: no heading #${anchor} in ${rel}`);
          continue;
        }
      }
      t.pass(`${link}`);
    }
    if (!checked) t.pass('no relative links');
  });
}

t.test('README.md stays short and every docs page is reachable from it', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const lines = readme.split('\n').length - 1;
  t.ok(lines <= 150, `README.md has ${lines} lines (at most 150: put the rest on a docs/ page)`);
  const seen = new Set<string>(['README.md']);
  const queue = ['README.md'];
  while (queue.length) {
    const page = queue.shift()!;
    for (const link of links(readFileSync(join(ROOT, page), 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue;
      const path = link.split('#')[0];
      if (!path?.endsWith('.md')) continue;
      const rel = relative(ROOT, resolve(dirname(join(ROOT, page)), decodeURIComponent(path)));
      if (rel.startsWith('docs' + sep) && !seen.has(rel) && existsSync(join(ROOT, rel))) {
        seen.add(rel);
        queue.push(rel);
      }
    }
  }
  const orphans = pages.filter((p) => !seen.has(p));
  t.same(orphans, [], 'no page is unreachable from README.md (add a line to its Documentation index)');
});
