// The controller's /metrics with ingress-nginx's metric names: reloads and their outcome, the
// configuration's hash, and requests (count and duration) by ingress, service, status, method,
// host and path — the last read from the counters nginx's Lua log phase keeps.
import { createHash } from 'node:crypto';
import { Counter, labelText, type Labels } from '../util/prometheus.ts';

export const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ControllerIdentity {
  controller_class: string;
  controller_namespace: string;
  controller_pod: string;
}

export class ControllerMetrics {
  readonly success = new Counter('nginx_ingress_controller_success', 'Cumulative number of Ingress controller reload operations');
  readonly errors = new Counter('nginx_ingress_controller_errors', 'Cumulative number of Ingress controller errors during reload operations');
  readonly lastReloadSuccessful = new Counter('nginx_ingress_controller_config_last_reload_successful', 'Whether the last configuration reload attempt was successful', 'gauge');
  readonly lastReloadTimestamp = new Counter('nginx_ingress_controller_config_last_reload_successful_timestamp_seconds', 'Timestamp of the last successful configuration reload.', 'gauge');
  readonly configHash = new Counter('nginx_ingress_controller_config_hash', 'Running configuration hash actually running', 'gauge');
  readonly endpointUpdates = new Counter('podpath_ingress_endpoint_updates_total', 'Endpoint changes sent to the Lua balancer without a reload');

  constructor(private readonly id: ControllerIdentity) {
    for (const c of [this.success, this.errors, this.lastReloadSuccessful, this.lastReloadTimestamp, this.configHash]) c.labelled = true;
    this.lastReloadSuccessful.set(0, { ...id });
    this.configHash.set(0, { ...id });
    this.success.set(0, { ...id });
    this.errors.set(0, { ...id });
  }

  reloaded(conf: string): void {
    this.success.inc(1, { ...this.id });
    this.lastReloadSuccessful.set(1, { ...this.id });
    this.lastReloadTimestamp.set(Math.floor(Date.now() / 1000), { ...this.id });
    // ingress-nginx exposes a 64-bit hash as a float: the first 52 bits keep it exact
    this.configHash.set(Number(BigInt(`0x${createHash('sha256').update(conf).digest('hex').slice(0, 13)}`)), { ...this.id });
  }

  refused(): void {
    this.errors.inc(1, { ...this.id });
    this.lastReloadSuccessful.set(0, { ...this.id });
  }

  /** The request metrics from nginx's counters (lines: sum|bucket, [le], namespace, ingress, service, status, method, host, path, canary, value). */
  requestMetrics(counterText: string): string {
    const requests = new Map<string, number>();
    const sums = new Map<string, number>();
    const buckets = new Map<string, Map<string, number>>();
    for (const line of counterText.split('\n')) {
      const f = line.split('\t');
      const kind = f[0];
      const le = kind === 'bucket' ? f[1]! : undefined;
      const rest = kind === 'bucket' ? f.slice(2) : f.slice(1);
      if (rest.length !== 9) continue;
      const [namespace, ingress, service, status, method, host, path, canary, value] = rest as [string, string, string, string, string, string, string, string, string];
      const labels: Labels = { canary, ...this.id, host, ingress, method, namespace, path, service, status };
      const key = labelText(labels);
      const v = Number(value);
      if (kind === 'sum') sums.set(key, (sums.get(key) ?? 0) + v);
      else if (kind === 'bucket') {
        const b = buckets.get(key) ?? new Map<string, number>();
        b.set(le!, (b.get(le!) ?? 0) + v);
        buckets.set(key, b);
        requests.set(key, (requests.get(key) ?? 0) + v);
      }
    }
    if (!requests.size) return '';
    const out = ['# HELP nginx_ingress_controller_requests The total number of client requests', '# TYPE nginx_ingress_controller_requests counter'];
    for (const [k, v] of [...requests].sort()) out.push(`nginx_ingress_controller_requests${k} ${v}`);
    out.push('# HELP nginx_ingress_controller_request_duration_seconds The request processing time in milliseconds', '# TYPE nginx_ingress_controller_request_duration_seconds histogram');
    for (const [k, count] of [...requests].sort()) {
      const b = buckets.get(k) ?? new Map<string, number>();
      let cum = 0;
      const inner = k.slice(1, -1);
      for (const le of durationBuckets) {
        cum += b.get(String(le)) ?? 0;
        out.push(`nginx_ingress_controller_request_duration_seconds_bucket{${inner},le="${le}"} ${cum}`);
      }
      out.push(`nginx_ingress_controller_request_duration_seconds_bucket{${inner},le="+Inf"} ${count}`);
      out.push(`nginx_ingress_controller_request_duration_seconds_sum${k} ${sums.get(k) ?? 0}`);
      out.push(`nginx_ingress_controller_request_duration_seconds_count${k} ${count}`);
    }
    return `${out.join('\n')}\n`;
  }

  expose(counterText: string): string {
    return [this.configHash, this.lastReloadSuccessful, this.lastReloadTimestamp, this.success, this.errors, this.endpointUpdates].map((m) => m.expose()).join('') + this.requestMetrics(counterText);
  }
}
