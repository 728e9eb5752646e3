// The Gateway data plane's nginx, started only once there is a Gateway listener to serve: NGINX
// Gateway Fabric provisions its nginx per Gateway, so a cluster without Gateways runs none; a
// lab that never makes one keeps about 9 MiB and an nginx start. Until then nothing is checked
// or loaded, endpoints are dropped, and the plane counts as healthy (there is nothing to fail);
// from the first start on it is the nginx it wraps.
import type { DataPlane } from '../ingress/nginx/process.ts';
import type { Rendered } from '../ingress/nginx/template.ts';

export class OnDemandPlane implements DataPlane {
  private started = false;

  /**
   * @param wanted whether the configuration about to be loaded serves a listener
   * @param onStart after nginx's first start: the endpoints dropped until then are to be sent again
   */
  constructor(
    private readonly inner: DataPlane,
    private readonly wanted: () => boolean,
    private readonly onStart: () => void,
  ) {}

  check(r: Rendered): Promise<string | undefined> {
    return this.started || this.wanted() ? this.inner.check(r) : Promise.resolve(undefined);
  }

  async load(r: Rendered): Promise<void> {
    if (!this.started && !this.wanted()) return;
    const first = !this.started;
    this.started = true;
    await this.inner.load(r);
    if (first) this.onStart();
  }

  setBackends(payload: string): Promise<void> {
    return this.started ? this.inner.setBackends(payload) : Promise.resolve();
  }

  counters(): Promise<string> {
    return this.started ? this.inner.counters() : Promise.resolve('');
  }

  /** nginx runs, or has nothing to serve yet */
  running(): boolean {
    return this.started ? this.inner.running() : true;
  }

  /** whether nginx was ever started */
  get active(): boolean {
    return this.started;
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }
}
