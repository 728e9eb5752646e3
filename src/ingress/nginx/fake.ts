// The data plane's one fake: records what the controller checked, loaded and sent, and refuses
// the configurations a test says nginx would refuse.
import type { DataPlane } from './process.ts';
import type { Rendered } from './template.ts';

export class FakeNginx implements DataPlane {
  /** every configuration checked, in order */
  readonly checked: string[] = [];
  /** every configuration loaded: the first started nginx, each later one is a reload */
  readonly loaded: string[] = [];
  /** every endpoint payload sent */
  readonly backends: string[] = [];
  /** nginx -t's answer to a configuration: a message refuses it */
  refuse: (conf: string) => string | undefined = () => undefined;
  counterText = '';
  private up = false;

  async check(r: Rendered): Promise<string | undefined> {
    this.checked.push(r.conf);
    return this.refuse(r.conf);
  }

  async load(r: Rendered): Promise<void> {
    this.loaded.push(r.conf);
    this.up = true;
  }

  async setBackends(payload: string): Promise<void> {
    this.backends.push(payload);
  }

  async counters(): Promise<string> {
    return this.counterText;
  }

  running(): boolean {
    return this.up;
  }

  /** reloads so far (loads after the first) */
  get reloads(): number {
    return Math.max(0, this.loaded.length - 1);
  }

  async stop(): Promise<void> {
    this.up = false;
  }
}
