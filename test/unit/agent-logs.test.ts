// The node agent's log server (the kubelet's /containerLogs, which `kubectl logs` reaches through
// the API server): a container's whole log, its last lines, following what is appended, and 404
// for a pod that is not on this node.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startLogServer, tailLines } from '../../src/agent/logs.ts';
import { tempStateDir } from '../helpers/agent.ts';

function get(port: number, p: string, onData?: (chunk: string, req: http.ClientRequest) => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
        onData?.(body, req);
      });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('close', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

describe('node agent log server', () => {
  it('serves a container\'s log, its tail, what is appended with follow, and 404 for unknown pods', async () => {
    const dir = tempStateDir();
    const file = path.join(dir, 'web_main.log');
    fs.writeFileSync(file, 'one\ntwo\nthree\n');
    const asked: string[] = [];
    const server = startLogServer({ host: '127.0.0.1', port: 0, log: () => {}, logFile: (ns, pod, c) => (asked.push(`${ns}/${pod}/${c}`), pod === 'web' ? file : undefined) });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      assert.deepEqual(await get(port, '/containerLogs/default/web/main'), { status: 200, body: 'one\ntwo\nthree\n' });
      assert.deepEqual(await get(port, '/containerLogs/default/web/main?tailLines=2'), { status: 200, body: 'two\nthree\n' });
      assert.deepEqual(await get(port, '/containerLogs/default/other/main'), { status: 404, body: 'not found\n' });
      assert.deepEqual(await get(port, '/elsewhere'), { status: 404, body: 'not found\n' });
      // A bad escape in the container's name is an unknown container, not a crash of the agent.
      assert.deepEqual(await get(port, '/containerLogs/default/web/%E0%A4'), { status: 404, body: 'not found\n' });
      assert.equal((await get(port, '/containerLogs/default/web/ma%zzin')).status, 400);
      assert.deepEqual(asked, ['default/web/main', 'default/web/main', 'default/other/main']);
      const followed = await get(port, '/containerLogs/default/web/main?follow=true&tailLines=1', (body, req) => {
        if (body === 'three\n') fs.appendFileSync(file, 'four\n');
        if (body.endsWith('four\n')) req.destroy();
      });
      assert.equal(followed.body, 'three\nfour\n');
    } finally {
      server.close();
    }
    assert.equal(tailLines('a\nb\nc\n', 2), 'b\nc\n');
  });
});
