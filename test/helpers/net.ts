// Loopback helpers for tests that start servers of their own (Redis, public-inbox-httpd, dovecot, patchgate).
import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it; the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
