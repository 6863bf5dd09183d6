/**
 * The runnable blocks of a docs page: every fenced block whose info string is `sh run=HOSTS
 * [daemon]` (HOSTS comma separated; `copy` for scp lines the test carries out; `any-server` for
 * a block meant for whichever server is being restarted), in page order, as written.
 */
import { readFileSync } from 'node:fs';

export interface DocBlock {
  hosts: string[];
  daemon: boolean;
  script: string;
  index: number;
}

export function docBlocks(path: string): DocBlock[] {
  const md = readFileSync(path, 'utf8');
  const out: DocBlock[] = [];
  const re = /^```sh run=(\S+)([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = re.exec(md); m; m = re.exec(md)) {
    out.push({ hosts: m[1].split(','), daemon: /\bdaemon\b/.test(m[2]), script: m[3], index: out.length });
  }
  return out;
}

/** The `scp SRC DST` lines of a copy block: SRC `host:path` or a path on `admin`, DST `host:` or `host:path`. */
export function scpLines(script: string): { fromHost: string; from: string; toHost: string; to: string }[] {
  return script
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^scp\s+(?:([\w-]+):)?(\S+)\s+([\w-]+):(\S*)$/.exec(l);
      if (!m) throw new Error(`not an 'scp SRC HOST:[PATH]' line: ${l}`);
      return { fromHost: m[1] ?? 'admin', from: m[2], toHost: m[3], to: m[4] };
    });
}
