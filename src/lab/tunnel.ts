// How the host reaches a lab without any route into it: a TCP listener on 127.0.0.1 in the
// host's namespace pipes each connection to a unix socket (sockets on the filesystem cross
// network namespaces); inside the lab, a forwarder listening on that unix socket connects to
// the target address from the namespace it runs in.
import fs from 'node:fs';
import net from 'node:net';

/** Host side: 127.0.0.1:port (0 = any free port) -> unix socket. Resolves with the port. */
export function tunnel(listenHost: string, port: number, unixPath: string): Promise<{ port: number; server: net.Server }> {
  // TCP_NODELAY: a small write behind an unacknowledged one would wait for the delayed ACK (40 ms).
  const server = net.createServer({ noDelay: true }, (c) => {
    const u = net.connect(unixPath);
    c.pipe(u).pipe(c);
    const close = () => {
      c.destroy();
      u.destroy();
    };
    c.on('error', close);
    u.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, listenHost, () => resolve({ port: (server.address() as net.AddressInfo).port, server }));
  });
}

/** Lab side: unix socket -> host:port, dialled from this process's network namespace. */
export function forwarder(unixPath: string, host: string, port: number): Promise<net.Server> {
  fs.rmSync(unixPath, { force: true });
  const server = net.createServer((c) => {
    const t = net.connect({ host, port, noDelay: true });
    c.pipe(t).pipe(c);
    const close = () => {
      c.destroy();
      t.destroy();
    };
    c.on('error', close);
    t.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(unixPath, () => {
      fs.chmodSync(unixPath, 0o600);
      resolve(server);
    });
  });
}
