// The node agent's authentication and authorization: the kubelet's path → attributes mapping,
// the authentication decision (client certificate, bearer token, nothing), the filter's answers
// and caching with fake reviews, and the real HTTPS server — certificates of a test CA, the API
// server's dialing options (kubeletTLS) — answering 401, 403 and Go's 400 for plain HTTP.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type tls from 'node:tls';
import { AgentAuth, authenticate, bearerToken, isSubpath, nodeRequestAttributes, type NodeAttributes, type Reviews, type UserInfo } from '../../src/agent/auth.ts';
import { loadAgentTLS } from '../../src/agent/certs.ts';
import { startAgentServer } from '../../src/agent/server.ts';
import { keepSession, kubeletTLS, tlsVerifyError, type KubeletClientConfig } from '../../src/apiserver/kubeletclient.ts';
import { issueKubeletCerts, kubeletClientSubject } from '../../src/lab/kubeletcerts.ts';
import { issueLeaf, makeCA, sansOf } from '../../src/util/pki.ts';
import { plainHttpAnswer } from '../../src/util/tlsserver.ts';
import { tempDir } from '../helpers/apiserver.ts';

describe('node agent request attributes (pkg/kubelet/server/auth.go)', () => {
  it('maps /stats, /metrics and /logs to their subresources and every other path to proxy, the HTTP method to the verb', () => {
    const sub = (p: string) => nodeRequestAttributes('n1', 'GET', p).subresource;
    assert.equal(sub('/stats/summary'), 'stats');
    assert.equal(sub('/stats'), 'stats');
    assert.equal(sub('/statsx'), 'proxy', 'a sibling path is not below /stats');
    assert.equal(sub('/metrics'), 'metrics');
    assert.equal(sub('/metrics/cadvisor'), 'metrics');
    assert.equal(sub('/logs/'), 'log');
    assert.equal(sub('/logs/messages'), 'log');
    assert.equal(sub('/containerLogs/default/web/app'), 'proxy', 'container logs are nodes/proxy, not nodes/log');
    assert.equal(sub('/exec/default/web/app'), 'proxy');
    assert.equal(sub('/portForward/default/web'), 'proxy');
    assert.deepEqual(nodeRequestAttributes('n1', 'POST', '/exec/a/b/c'), { verb: 'create', resource: 'nodes', subresource: 'proxy', name: 'n1', apiVersion: 'v1', path: '/exec/a/b/c' });
    assert.deepEqual(['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m) => nodeRequestAttributes('n1', m, '/').verb), ['get', 'update', 'patch', 'delete', '']);
    assert.equal(isSubpath('/a/b', '/a/'), true);
    assert.equal(isSubpath('/ab', '/a'), false);
  });
});

describe('node agent authentication decision', () => {
  const sa: UserInfo = { username: 'system:serviceaccount:ns:sa', groups: ['system:serviceaccounts', 'system:serviceaccounts:ns', 'system:authenticated'] };
  const review = async (t: string) => (t === 'good' ? sa : undefined);

  it('a verified client certificate is its CN in the groups of its O; an unverified one is no one', async () => {
    assert.deepEqual(await authenticate({ peer: { verified: true, commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] } }, review), { username: 'kube-apiserver-kubelet-client', groups: ['system:masters', 'system:authenticated'] });
    assert.equal(await authenticate({ peer: { verified: false, commonName: 'admin', organizations: ['system:masters'] } }, review), undefined);
    assert.deepEqual(await authenticate({ peer: { verified: false, commonName: 'admin', organizations: [] }, authorization: 'Bearer good' }, review), sa, 'a token still counts beside a bad certificate');
  });

  it('a bearer token is what the TokenReview says; no credentials, a bad scheme or an unknown token is no one', async () => {
    assert.deepEqual(await authenticate({ authorization: 'bearer good' }, review), sa);
    assert.equal(await authenticate({ authorization: 'Bearer bad' }, review), undefined);
    assert.equal(await authenticate({ authorization: 'Basic Z29vZA==' }, review), undefined);
    assert.equal(await authenticate({}, review), undefined);
    assert.equal(bearerToken('Bearer '), undefined);
    assert.equal(bearerToken('  Bearer   tok  '), 'tok');
  });
});

/** Reviews answering from tables, counting what they are asked. */
function fakeReviews(users: Record<string, UserInfo>, allow: (u: UserInfo, a: NodeAttributes) => boolean): Reviews & { asked: { tokens: number; sars: number } } {
  const asked = { tokens: 0, sars: 0 };
  return {
    asked,
    tokenReview: async (t) => (asked.tokens++, users[t]),
    subjectAccessReview: async (u, a) => (asked.sars++, allow(u, a)),
  };
}

describe('node agent auth filter', () => {
  const alice: UserInfo = { username: 'alice', groups: ['system:authenticated'] };
  const reviews = fakeReviews({ a: alice }, (u, a) => u.username === 'alice' && a.subresource === 'stats');

  it("answers 401 Unauthorized and 403 with the kubelet's text; reviews are cached as the kubelet caches them", async () => {
    let now = 0;
    const auth = new AgentAuth('node-1', reviews, () => {}, () => now);
    assert.deepEqual(await auth.check({}, 'GET', '/stats/summary'), { allowed: false, code: 401, text: 'Unauthorized' });
    assert.deepEqual(await auth.check({ authorization: 'Bearer a' }, 'GET', '/stats/summary'), { allowed: true, user: alice });
    assert.deepEqual(await auth.check({ authorization: 'Bearer a' }, 'POST', '/exec/default/web/app'), { allowed: false, code: 403, text: 'Forbidden (user=alice, verb=create, resource=nodes, subresource=proxy)' });
    assert.deepEqual(reviews.asked, { tokens: 1, sars: 2 });
    await auth.check({ authorization: 'Bearer a' }, 'GET', '/stats/summary');
    assert.deepEqual(reviews.asked, { tokens: 1, sars: 2 }, 'answered from the caches');
    now += 60_000;
    await auth.check({ authorization: 'Bearer a' }, 'POST', '/exec/default/web/app');
    assert.deepEqual(reviews.asked, { tokens: 1, sars: 3 }, 'a denial is kept 30 s, a token 2 min');
    now += 90_000;
    await auth.check({ authorization: 'Bearer a' }, 'GET', '/stats/summary');
    assert.deepEqual(reviews.asked, { tokens: 2, sars: 3 }, 'an allowance is kept 5 min');
  });

  it('a review that fails is 401 for authentication and 500 for authorization', async () => {
    const failing: Reviews = { tokenReview: () => Promise.reject(new Error('down')), subjectAccessReview: () => Promise.reject(new Error('down')) };
    const auth = new AgentAuth('node-1', failing, () => {});
    assert.deepEqual(await auth.check({ authorization: 'Bearer x' }, 'GET', '/'), { allowed: false, code: 401, text: 'Unauthorized' });
    const cert = { peer: { verified: true, commonName: 'bob', organizations: [] } };
    assert.deepEqual(await auth.check(cert, 'GET', '/stats/summary'), { allowed: false, code: 500, text: 'Authorization error (user=bob, verb=get, resource=nodes, subresource=stats)' });
  });
});

/** An HTTPS GET with these TLS options: status and body. */
function get(port: number, p: string, tls: object, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: p, agent: false, headers, ...tls }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

describe('node agent HTTPS server', () => {
  it('serves whom the client CA or the TokenReview vouches for, as the SubjectAccessReview allows; refuses the rest; answers plain HTTP as Go does', async () => {
    const dir = tempDir('agent-auth');
    try {
      const now = new Date(Date.now() - 60_000);
      const later = new Date(now.getTime() + 3600_000);
      const ca = await makeCA('CN=test-ca', now, later);
      const files = {
        kubeletClientCert: path.join(dir, 'client.crt'),
        kubeletClientKey: path.join(dir, 'client.key'),
        nodeServingCert: (n: string) => path.join(dir, `${n}.crt`),
        nodeServingKey: (n: string) => path.join(dir, `${n}.key`),
      };
      await issueKubeletCerts(ca, [{ name: 'node-1', netns: 'x', ip: '127.0.0.1' }], files);
      assert.deepEqual(sansOf(fs.readFileSync(files.nodeServingCert('node-1'), 'utf8')), ['127.0.0.1', 'node-1']);
      fs.writeFileSync(path.join(dir, 'ca.crt'), ca.certPem);
      const tls = await loadAgentTLS({ tlsCertFile: files.nodeServingCert('node-1'), tlsPrivateKeyFile: files.nodeServingKey('node-1'), clientCAFile: path.join(dir, 'ca.crt'), stateDir: dir, nodeName: 'node-1', nodeIP: '127.0.0.1' });
      const seen: string[] = [];
      const reviews = fakeReviews({ 'sa-token': { username: 'system:serviceaccount:default:viewer', groups: ['system:authenticated'] } }, (u, a) => {
        seen.push(`${u.username} [${u.groups.join(',')}] ${a.verb} ${a.subresource}`);
        return u.groups.includes('system:masters');
      });
      const port = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as net.AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      const server = await startAgentServer({
        host: '127.0.0.1',
        port,
        tls,
        auth: new AgentAuth('node-1', reviews, () => {}),
        handler: (_req, res) => res.end('served'),
        upgrade: (_req, socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n'),
        log: () => {},
      });
      try {
        const apiserver: KubeletClientConfig = { cert: fs.readFileSync(files.kubeletClientCert, 'utf8'), key: fs.readFileSync(files.kubeletClientKey, 'utf8'), ca: ca.certPem };
        assert.equal(kubeletClientSubject, 'CN=kube-apiserver-kubelet-client, O=system:masters');
        assert.deepEqual(await get(port, '/containerLogs/default/web/app', kubeletTLS(apiserver)), { status: 200, body: 'served' });
        assert.deepEqual(seen, ['kube-apiserver-kubelet-client [system:masters,system:authenticated] get proxy']);
        // The API server resumes its TLS session with the agent; a resumed session is still its client certificate.
        const resuming = () =>
          new Promise<{ reused: boolean; status: number }>((resolve, reject) => {
            const req = https.get({ host: '127.0.0.1', port, path: '/containerLogs/default/web/app', agent: false, ...kubeletTLS(apiserver, '127.0.0.1', port) }, (res) => {
              res.resume();
              res.on('end', () => resolve({ reused: (res.socket as tls.TLSSocket).isSessionReused(), status: res.statusCode! }));
            });
            req.on('socket', (s) => keepSession(apiserver, '127.0.0.1', port, s as tls.TLSSocket));
            req.on('error', reject);
          });
        assert.deepEqual(await resuming(), { reused: false, status: 200 });
        assert.deepEqual(await resuming(), { reused: true, status: 200 });
        assert.deepEqual(await get(port, '/stats/summary', kubeletTLS({ ca: ca.certPem })), { status: 401, body: 'Unauthorized' }, 'no credentials');
        assert.deepEqual(await get(port, '/stats/summary', { rejectUnauthorized: false }, { Authorization: 'Bearer sa-token' }), { status: 403, body: 'Forbidden (user=system:serviceaccount:default:viewer, verb=get, resource=nodes, subresource=stats)' });
        // A certificate another CA signed, claiming system:masters, is no one.
        const other = await makeCA('CN=other-ca', now, later);
        const forged = await issueLeaf(other, { subject: kubeletClientSubject, dns: [], ips: [], notBefore: now, notAfter: later, usage: 'client' });
        assert.deepEqual(await get(port, '/exec/default/web/app', { rejectUnauthorized: false, cert: forged.cert, key: forged.key }), { status: 401, body: 'Unauthorized' });
        // The API server refuses an agent whose serving certificate its CA did not sign.
        const refused = await get(port, '/', kubeletTLS({ ...apiserver, ca: other.certPem })).then(() => undefined, (e: NodeJS.ErrnoException) => e);
        assert.equal(refused && tlsVerifyError(refused, '127.0.0.1'), 'tls: failed to verify certificate: x509: certificate signed by unknown authority');
        // ... and one whose certificate is for another address.
        const misnamed = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
          https.get({ host: 'localhost', port, path: '/', agent: false, ...kubeletTLS(apiserver) }, () => resolve(undefined)).on('error', resolve);
        });
        assert.equal(misnamed && tlsVerifyError(misnamed, 'localhost'), 'tls: failed to verify certificate: x509: certificate is valid for node-1, not localhost');
        // An upgrade without credentials is refused before the streaming server sees it.
        const upgraded = await new Promise<string>((resolve, reject) => {
          const s = (https.request({ host: '127.0.0.1', port, path: '/exec/default/web/app?command=sh', rejectUnauthorized: false, agent: false, headers: { Connection: 'Upgrade', Upgrade: 'websocket' } }) as unknown as NodeJS.EventEmitter & { end(): void });
          s.on('response', (res: { statusCode: number; on: (e: string, f: (d?: Buffer) => void) => void }) => {
            let body = '';
            res.on('data', (d) => (body += d!.toString()));
            res.on('end', () => resolve(`${res.statusCode} ${body}`));
          });
          s.on('upgrade', () => resolve('upgraded'));
          s.on('error', reject);
          s.end();
        });
        assert.equal(upgraded, '401 Unauthorized');
        // Plain HTTP on the TLS port: Go's answer.
        const plain = await new Promise<string>((resolve, reject) => {
          const c = net.connect(port, '127.0.0.1', () => c.write('GET /stats/summary HTTP/1.1\r\nHost: x\r\n\r\n'));
          let out = '';
          c.on('data', (d) => (out += d.toString()));
          c.on('end', () => resolve(out));
          c.on('error', reject);
        });
        assert.equal(plain, plainHttpAnswer);
        assert.equal(plain, 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
      } finally {
        server.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without certificate files makes a self-signed one for the node, kept in the state directory', async () => {
    const dir = tempDir('agent-selfsigned');
    try {
      const a = await loadAgentTLS({ stateDir: dir, nodeName: 'node-2', nodeIP: '10.0.0.2' });
      assert.deepEqual(sansOf(a.cert), ['10.0.0.2', 'node-2']);
      assert.equal(a.clientCA, undefined);
      assert.equal(fs.statSync(path.join(dir, 'pki', 'kubelet.key')).mode & 0o777, 0o600);
      const b = await loadAgentTLS({ stateDir: dir, nodeName: 'node-2', nodeIP: '10.0.0.2' });
      assert.equal(b.cert, a.cert, 'kept');
      const c = await loadAgentTLS({ stateDir: dir, nodeName: 'node-2', nodeIP: '10.0.0.3' });
      assert.deepEqual(sansOf(c.cert), ['10.0.0.3', 'node-2'], 'made again for a new address');
      await assert.rejects(loadAgentTLS({ stateDir: dir, nodeName: 'n', nodeIP: '10.0.0.2', tlsCertFile: '/nonexistent.crt' }), /--tls-cert-file and --tls-private-key-file go together/);
      await assert.rejects(loadAgentTLS({ stateDir: dir, nodeName: 'n', nodeIP: '10.0.0.2', clientCAFile: '/nonexistent-ca.crt' }), /--client-ca-file \/nonexistent-ca.crt: ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
