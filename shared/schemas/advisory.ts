/**
 * The nats-server advisory the head reads from the system account: a client of the application
 * account disconnected (`$SYS.ACCOUNT.<account>.DISCONNECT`). Only the fields the head uses;
 * the server sends more. `client.name_tag` is the user JWT's name (worker:<node>:<token> for a
 * node agent: the server vouches for it), `client.name` the connection name the client chose.
 */
import { z } from 'zod';
import { MAX_PATH, MAX_STAMP, MAX_TEXT } from './bounds.ts';

export const CLIENT_DISCONNECT_TYPE = 'io.nats.server.advisory.v1.client_disconnect';
/** The reason nats-server gives when the client closed the socket (its process ended or it called close). */
export const CLIENT_CLOSED_REASON = 'Client Closed';

export const ClientDisconnectAdvisory = z.object({
  type: z.literal(CLIENT_DISCONNECT_TYPE),
  timestamp: z.string().max(MAX_STAMP),
  client: z.object({
    id: z.number().int().nonnegative(),
    name: z.string().max(MAX_PATH).optional(),
    name_tag: z.string().max(MAX_PATH).optional(),
  }),
  reason: z.string().max(MAX_TEXT),
});
export type ClientDisconnectAdvisory = z.infer<typeof ClientDisconnectAdvisory>;
