// Events about an object, as client-go's EventRecorder writes them (core/v1 Event, named
// OBJECT.HEX): what `kubectl describe` lists under Events. Best effort: a failed write is dropped.
import type { KubeObject } from '../api/types.ts';
import type { Client } from './client.ts';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  constructor(
    private readonly client: Client,
    /** source.component and reportingComponent (e.g. deployment-controller, nginx-ingress-controller) */
    private readonly component: string,
  ) {}

  async record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const ns = obj.metadata.namespace ?? 'default';
    await this.client
      .request('POST', `/api/v1/namespaces/${ns}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        // client-go's name: OBJECT.<unix nanoseconds in hex>
        metadata: { name: `${obj.metadata.name}.${(BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)).toString(16)}`, namespace: ns },
        involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: ns, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
        reason,
        message,
        type,
        source: { component: this.component },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        reportingComponent: this.component,
      })
      .catch(() => {});
  }
}
