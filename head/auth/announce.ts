/**
 * What a starting head tells its operator: the admin token made on first start (printed once as
 * `flotilla token: <TOKEN>` and saved to the credentials file for its URL, which client commands
 * read), and a one-time dashboard login link. With auth off, a warning instead.
 */
import { saveToken, storedToken } from '../../shared/credentials.ts';
import type { Head } from '../head.ts';

export async function announceAuth(head: Head, print: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  if (!head.tokens) {
    print('flotilla: WARNING: authentication is off (--insecure): anyone who reaches this port controls the cluster');
    return;
  }
  if (head.firstAdminToken) {
    print(`flotilla token: ${head.firstAdminToken}`);
    if (head.url) {
      // a read-only home (a container) must not stop the head: the token was printed above
      try {
        print(`flotilla: admin token saved to ${saveToken(head.url, head.firstAdminToken)} (client commands use it)`);
      } catch (e) {
        print(`flotilla: WARNING: the admin token could not be saved (${(e as Error).message}); keep the line above`);
      }
    }
  } else if (head.url && !storedToken(head.url)) {
    print('flotilla: tokens already exist for this cluster; pass --token or FLOTILLA_TOKEN (flotilla token create)');
  }
  if (head.url) {
    const { code } = await head.tokens.loginCode('admin');
    print(`flotilla dashboard: ${head.url}/login?code=${encodeURIComponent(code)} (one-time link, 10 min)`);
  }
}
