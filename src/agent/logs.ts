// The kubelet's /containerLogs endpoint, which the API server proxies `kubectl logs` to: a
// container's log file, whole or its last tailLines, and with follow=true what is appended.
import fs from 'node:fs';
import type http from 'node:http';
import { createHttpServer, decodeSegment } from '../util/httpserver.ts';

export interface LogServerOptions {
  host: string;
  port: number;
  /** the log file of a container of a pod on this node; undefined when there is no such pod */
  logFile: (namespace: string, pod: string, container: string) => string | undefined;
  log: (s: string) => void;
}

/** The last `n` lines of a log, which ends with a newline (as the runtime writes it). */
export function tailLines(text: string, n: number): string {
  return text.split('\n').slice(-n - 1).join('\n');
}

export function startLogServer(o: LogServerOptions): http.Server {
  const server = createHttpServer((req, res, target) => {
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(target.pathname);
    const container = m ? decodeSegment(m[3]!) : undefined;
    const file = m && container !== undefined ? o.logFile(m[1]!, m[2]!, container) : undefined;
    if (!file) {
      res.writeHead(404);
      return res.end('not found\n');
    }
    const q = target.query;
    let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const tail = Number(q.get('tailLines') ?? '');
    if (tail > 0) text = tailLines(text, tail);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write(text);
    if (q.get('follow') !== 'true') return res.end();
    let offset = fs.existsSync(file) ? fs.statSync(file).size : 0;
    const t = setInterval(() => {
      if (!fs.existsSync(file)) return;
      const size = fs.statSync(file).size;
      if (size > offset) {
        const fd = fs.openSync(file, 'r');
        const buf = Buffer.alloc(size - offset);
        fs.readSync(fd, buf, 0, buf.length, offset);
        fs.closeSync(fd);
        offset = size;
        res.write(buf);
      }
    }, 200);
    req.on('close', () => clearInterval(t));
  }, {}, o.log);
  server.listen(o.port, o.host);
  server.on('error', (e) => o.log(`log server: ${e.message}`));
  return server;
}
