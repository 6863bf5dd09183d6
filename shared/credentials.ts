/**
 * The CLI's credentials file, `~/.flotilla/credentials` (or FLOTILLA_CREDENTIALS), mode 0600:
 * JSON `{ "tokens": { "<head URL>": "<token>" } }`. `flotilla up`, the demo and a head on
 * first start write their admin token there; client commands read the one for their URL.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLOTILLA_CREDENTIALS || join(homedir(), '.flotilla', 'credentials');
}

const norm = (url: string) => url.replace(/\/+$/, '');

function read(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as { tokens?: Record<string, string> };
    return j.tokens && typeof j.tokens === 'object' ? j.tokens : {};
  } catch {
    return {};
  }
}

/** The stored token for a head URL, if any. */
export function storedToken(url: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return read(credentialsPath(env))[norm(url)];
}

/** Saves the token for a head URL (file and dir created private). Returns the file's path. */
export function saveToken(url: string, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const path = credentialsPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tokens = { ...read(path), [norm(url)]: token };
  writeFileSync(path, `${JSON.stringify({ tokens }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
