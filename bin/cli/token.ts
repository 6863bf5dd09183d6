/**
 * `flotilla token create --role ROLE [--name N]`, `token list`, `token revoke ID`: REST tokens
 * (admin, submitter, viewer) and worker join tokens (`--role worker`: `--name` binds it to that
 * node id; without it, a pool token any number of workers may join with). Needs an admin token.
 */
import { parseArgs } from 'node:util';
import { HeadClient, serverUrl } from './client.ts';
import { Role } from '../../shared/schemas/token.ts';

const USAGE = `usage: flotilla token create --role admin|submitter|viewer|worker [--name N] [--ttl D]
       flotilla token list
       flotilla token revoke ID

  --ttl D        lifetime: 90s, 30m, 24h, 7d (default: until revoked); for --role worker only without
                 --name: the pool token then admits no new worker (joined nodes keep their creds)
  --server URL   head URL (env FLOTILLA_URL, default http://127.0.0.1:8080)
  --token T      an admin token (env FLOTILLA_TOKEN, default: ~/.flotilla/credentials)
  --json         machine-readable output`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      ttl: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [sub, arg] = positionals;
  if (values.help || !sub) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const c = new HeadClient(serverUrl(values.server), values.token);
  if (sub === 'create') {
    const role = Role.safeParse(values.role);
    if (!role.success) {
      console.error(`flotilla token: --role must be one of ${Role.options.join(', ')}\n\n${USAGE}`);
      return 2;
    }
    const ttl = values.ttl === undefined ? undefined : durationSeconds(values.ttl);
    if (ttl === null) {
      console.error(`flotilla token: --ttl must be a duration such as 90s, 30m, 24h or 7d, not '${values.ttl}'\n\n${USAGE}`);
      return 2;
    }
    const t = await c.createToken({
      role: role.data,
      ...(values.name ? { name: values.name } : {}),
      ...(ttl !== undefined ? { ttl_s: ttl } : {}),
    });
    if (values.json) console.log(JSON.stringify(t));
    else
      console.log(
        `token ${t.id} (${t.role}${t.name ? ` ${t.name}` : ''}${t.expires_at ? `, expires ${t.expires_at}` : ''}), shown once:\n${t.token}`,
      );
    return 0;
  }
  if (sub === 'list') {
    const all = await c.tokens();
    if (values.json) console.log(JSON.stringify(all));
    else
      for (const t of all)
        console.log(
          `${t.id}  ${t.role.padEnd(9)} ${(t.name ?? '').padEnd(16)} ${t.created_at}${t.revoked_at ? `  revoked ${t.revoked_at}` : ''}${t.expires_at ? `  expires ${t.expires_at}` : ''}`,
        );
    return 0;
  }
  if (sub === 'revoke' && arg) {
    const t = await c.revokeToken(arg);
    console.log(values.json ? JSON.stringify(t) : `revoked ${t.id} (${t.role})`);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

/** `90s`, `30m`, `24h`, `7d` (or plain seconds) in seconds; null when it is none of those. */
export function durationSeconds(text: string): number | null {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}
