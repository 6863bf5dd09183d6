/**
 * `flotilla token create --role ROLE [--name N]`, `token list`, `token revoke ID`: REST tokens
 * (admin, submitter, viewer) and worker join tokens (`--role worker`: `--name` binds it to that
 * node id; without it, a pool token any number of workers may join with). Needs an admin token.
 */
import { z } from 'zod';
import { HeadClient, serverUrl } from './client.ts';
import { Role } from '../../shared/schemas/token.ts';
import { clientFlags, defineCommand, flag, parse, usageError } from './parse.ts';

export const spec = defineCommand({
  name: 'token',
  synopsis: ['create --role admin|submitter|viewer|worker [--name N] [--ttl D]', 'list', 'revoke ID'],
  flags: z.object({
    role: flag.oneOf(Role.options as unknown as [string, ...string[]], 'ROLE', 'create: admin | submitter | viewer | worker'),
    name: flag.str('N', 'create: a label; for --role worker the node id the token is bound to (none: a pool token)'),
    ttl: z
      .string()
      .refine((v) => durationSeconds(v) !== null, { error: 'expected a duration such as 90s, 30m, 24h or 7d' })
      .optional()
      .meta({
        arg: 'D',
        description:
          'lifetime: 90s, 30m, 24h, 7d (default: until revoked); for --role worker only without\n--name: the pool token then admits no new worker (joined nodes keep their creds)',
      }),
    server: clientFlags.server,
    token: flag.str('T', 'an admin token (env FLOTILLA_TOKEN, default: ~/.flotilla/credentials)'),
    json: flag.bool('machine-readable output'),
  }),
  args: z.union([z.tuple([z.literal('create')]), z.tuple([z.literal('list')]), z.tuple([z.literal('revoke'), z.string().min(1)])], {
    error: 'expected create, list or revoke ID',
  }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const [sub, arg] = p.args;
  const c = new HeadClient(serverUrl(values.server), values.token);
  if (sub === 'create') {
    const role = Role.safeParse(values.role);
    if (!role.success) return usageError(spec, `--role: required, one of ${Role.options.join(', ')}`);
    const ttl = values.ttl === undefined ? undefined : (durationSeconds(values.ttl) ?? undefined);
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
  const t = await c.revokeToken(arg!);
  console.log(values.json ? JSON.stringify(t) : `revoked ${t.id} (${t.role})`);
  return 0;
}

/** `90s`, `30m`, `24h`, `7d` (or plain seconds) in seconds; null when it is none of those. */
export function durationSeconds(text: string): number | null {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}
