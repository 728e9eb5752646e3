// ruby-kubeclient (Debian's ruby-kubeclient 4.9) against a real `podpath apiserver`: its
// watch_pods uses the legacy watch paths, /api/v1/watch/namespaces/NS/pods and, for one pod,
// /api/v1/watch/namespaces/NS/pods/NAME.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApiServer, tempDir, type TestApiServer } from '../helpers/apiserver.ts';

const hasClient = spawnSync('ruby', ['-e', 'require "kubeclient"'], { stdio: 'ignore' }).status === 0;

// Watches the namespace's pods and one pod by name while it creates, updates and deletes two
// pods; prints each watch's events as JSON, one watch per line.
const script = `
require 'json'
require 'kubeclient'
url, token, ca, ns = ARGV
client = Kubeclient::Client.new(url + '/api', 'v1', auth_options: { bearer_token: token }, ssl_options: { ca_file: ca })
client.create_namespace(Kubeclient::Resource.new(metadata: { name: ns }))
rv = client.get_pods(namespace: ns).resourceVersion
watch = lambda do |**opts|
  events = []
  watcher = client.watch_pods(namespace: ns, resource_version: rv, **opts)
  thread = Thread.new do
    watcher.each do |notice|
      events << [notice.type, notice.object.metadata.name, notice.object.metadata.labels.to_h[:step]]
      break if notice.type == 'DELETED' && notice.object.metadata.name == 'p2'
      break if opts[:name] && notice.type == 'DELETED'
    end
  end
  [watcher, thread, events]
end
all = watch.call
one = watch.call(name: 'p1')
pod = lambda do |name|
  Kubeclient::Resource.new(metadata: { name: name, namespace: ns, labels: { step: 'created' } },
                           spec: { containers: [{ name: 'c', image: 'busybox' }] })
end
client.create_pod(pod.call('p1'))
client.create_pod(pod.call('p2'))
client.patch_pod('p1', { metadata: { labels: { step: 'patched' } } }, ns)
client.delete_pod('p1', ns)
client.delete_pod('p2', ns)
[all, one].each do |watcher, thread, events|
  thread.join(20)
  watcher.finish
  puts JSON.generate(events)
end
`;

describe('ruby-kubeclient', { skip: hasClient ? false : 'ruby cannot require kubeclient (Debian\'s ruby-kubeclient is not installed)' }, () => {
  let s: TestApiServer;
  let dir: string;
  before(async () => {
    s = await startApiServer();
    dir = tempDir('ruby');
    fs.writeFileSync(path.join(dir, 'ca.crt'), s.caCert);
  });
  after(async () => {
    await s?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('watch_pods sees ADDED, MODIFIED and DELETED, for a namespace and for one pod by name', () => {
    const r = spawnSync('ruby', ['-e', script, s.url, s.token, path.join(dir, 'ca.crt'), 'rb'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const [all, one] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(all, [
      ['ADDED', 'p1', 'created'],
      ['ADDED', 'p2', 'created'],
      ['MODIFIED', 'p1', 'patched'],
      ['DELETED', 'p1', 'patched'],
      ['DELETED', 'p2', 'created'],
    ]);
    assert.deepEqual(one, [
      ['ADDED', 'p1', 'created'],
      ['MODIFIED', 'p1', 'patched'],
      ['DELETED', 'p1', 'patched'],
    ]);
  });
});
