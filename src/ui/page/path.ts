// The path view: one trace drawn as a swimlane — one lane per place the packet is in (the client,
// the underlay, each node's network namespace with its netfilter hooks, each pod's) and one row
// per step, the packet's addresses as they are after that step with DNAT and SNAT rewrites
// marked — with a verdict per layer, the random choices with their probabilities, and an
// evidence panel for the step chosen; once observed, each step marked as the kernel saw it or
// not, and where the path fails, `podpath diagnose`'s finding there. Everything drawn comes from
// the JSON `podpath trace -o json` and `podpath diagnose -o json` print.
import type { Diagnosis, Finding } from '../../diagnose/types.ts';
import type { Candidate, Hop, HopKind, Packet, PacketField, Trace } from '../../trace/types.ts';
import { h } from './dom.ts';

export interface PathActions {
  select(step: number): void;
  pickEndpoint(c: Candidate): void;
  showObject(kind: string, namespace: string | undefined, name: string): void;
}

export const placeOf = (hop: Hop) => (hop.node ? `node/${hop.node}` : (hop.namespace ?? '?'));

function laneTitle(place: string): { title: string; sub: string } {
  if (place === 'client') return { title: 'client', sub: "the lab's client namespace" };
  if (place === 'underlay') return { title: 'underlay', sub: 'br0, 192.168.49.0/24' };
  if (place.startsWith('node/')) return { title: place.slice(5), sub: 'node: routing, netfilter, conntrack, kube-proxy' };
  if (place.startsWith('pod/')) {
    const [ns, name] = place.slice(4).split('/');
    return { title: name ?? place, sub: `pod in ${ns}: its network namespace` };
  }
  return { title: place, sub: '' };
}

const layers: { kind: HopKind; label: string }[] = [
  { kind: 'resolve', label: 'DNS' },
  { kind: 'route', label: 'routing' },
  { kind: 'netfilter', label: 'kube-proxy rules' },
  { kind: 'conntrack', label: 'conntrack' },
  { kind: 'ingress', label: 'Ingress' },
  { kind: 'gateway', label: 'Gateway' },
  { kind: 'proxy', label: 'kube-proxy (userspace)' },
  { kind: 'netpol', label: 'NetworkPolicy' },
  { kind: 'deliver', label: 'delivery' },
  { kind: 'reply', label: 'reply' },
];

/** The layer a step belongs to: a kernel rule acting for a NetworkPolicy (a lab's policy table) is the NetworkPolicy layer's. */
export const layerOf = (x: Hop): HopKind => (x.kind === 'netfilter' && x.object?.kind === 'NetworkPolicy' ? 'netpol' : x.kind);

/** The hop that dropped or rejected the packet: the last one of a trace that was not delivered. */
export const failingStep = (t: Trace) => (t.verdict === 'delivered' ? undefined : t.hops[t.hops.length - 1]?.step);

const objectName = (o: { kind: string; namespace?: string; name: string }) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;

function layerSummary(t: Trace, kind: HopKind, hops: Hop[]): string {
  const fail = failingStep(t);
  const failing = hops.find((x) => x.step === fail);
  if (failing) return failing.object ? `${t.verdict} by ${objectName(failing.object)}` : t.verdict;
  switch (kind) {
    case 'resolve':
      return hops[hops.length - 1]!.packet.after.dst;
    case 'netfilter': {
      const nat = hops.filter((x) => x.packet.rewritten.length).map((x) => x.rule?.action ?? '');
      return nat.length ? nat.join(', ') : 'no rewrite';
    }
    case 'netpol':
      return hops.some((x) => / denied/.test(x.note) || x.rule?.action === 'drop') ? 'denied' : 'allowed';
    case 'gateway': {
      // the Gateway the request reached (each has an address of its own) and the listener that took it
      const g = hops.find((x) => x.gateway)?.gateway;
      return g ? `${g.gateway}${g.listener ? ` ${g.listener}` : ''}:${g.port}` : `${hops.length} step${hops.length === 1 ? '' : 's'}`;
    }
    case 'deliver':
      return t.endpoint ? `${t.endpoint.pod}` : 'delivered';
    default:
      return `${hops.length} step${hops.length === 1 ? '' : 's'}`;
  }
}

/** The verdict banner: the outcome, and a ✓ or ✗ for each layer the packet went through. */
export function verdictBanner(t: Trace): HTMLElement {
  const fail = failingStep(t);
  const failing = t.hops.find((x) => x.step === fail);
  const failKind = failing && layerOf(failing);
  const present = layers.filter((l) => t.hops.some((x) => layerOf(x) === l.kind));
  if (fail !== undefined && !present.some((l) => l.kind === 'deliver')) present.push(layers.find((l) => l.kind === 'deliver')!);
  return h(
    'div',
    { class: `verdict ${t.verdict}`, role: 'status', 'data-verdict': t.verdict },
    h('div', { class: 'outcome' }, h('strong', {}, t.verdict === 'delivered' ? '✓ DELIVERED' : `✗ ${t.verdict.toUpperCase()}`), ' ', h('span', {}, t.reason)),
    h(
      'ol',
      { class: 'layers', 'aria-label': 'verdict per layer' },
      present.map((l) => {
        const hops = t.hops.filter((x) => layerOf(x) === l.kind);
        const state = !hops.length ? 'unreached' : l.kind === failKind ? 'fail' : 'pass';
        return h('li', { class: `layer ${state}`, 'data-layer': l.kind, 'data-state': state }, h('span', { class: 'mark', 'aria-hidden': 'true' }, state === 'pass' ? '✓' : state === 'fail' ? '✗' : '·'), h('span', { class: 'label' }, l.label), h('span', { class: 'sum' }, hops.length ? layerSummary(t, l.kind, hops) : 'not reached'), h('span', { class: 'sr-only' }, state === 'pass' ? 'passed' : state === 'fail' ? 'failed' : 'not reached'));
      }),
    ),
    // what the computation leaves out in this proxy mode (IPVS's choice, a userspace proxy's process)
    t.notes?.length ? h('ul', { class: 'trace-notes dim' }, t.notes.map((n) => h('li', {}, n))) : null,
  );
}

const fieldClass = (f: PacketField) => (f === 'src' || f === 'srcPort' ? 'snat' : 'dnat');

/** "src:port → dst:port/proto" with the rewritten fields marked. */
export function packetLine(p: Packet, marked: readonly PacketField[] = []): HTMLElement {
  const f = (k: PacketField) => (marked.includes(k) ? h('mark', { class: fieldClass(k), title: fieldClass(k) === 'dnat' ? 'rewritten here (destination NAT)' : 'rewritten here (source NAT)' }, String(p[k])) : String(p[k]));
  return h('span', { class: 'pkt mono' }, f('src'), ':', f('srcPort'), ' → ', f('dst'), ':', f('dstPort'), h('span', { class: 'dim' }, `/${p.protocol}`));
}

function hopHeadline(x: Hop): string {
  if (x.rule?.action) return x.rule.action;
  const first = x.note.split(/[;:] /)[0] ?? x.note;
  return first.length > 90 ? `${first.slice(0, 89)}…` : first;
}

/** The finding diagnose names as the failing one (its first failing check). */
export const failingFinding = (d: Diagnosis | undefined): Finding | undefined => (d?.failing ? d.findings.find((f) => f.check === d.failing!.check && f.status === 'fail') : undefined);

/** Whether the probe's packet was seen taking a step: only hops the kernel reports carry it. */
const observedState = (t: Trace, x: Hop): 'observed' | 'unseen' | undefined => (!t.observed || x.observed === undefined ? undefined : x.observed ? 'observed' : 'unseen');

function hopCard(t: Trace, x: Hop, a: PathActions, d?: Diagnosis): HTMLElement {
  const fail = failingStep(t) === x.step;
  const rw = x.packet.rewritten;
  const seen = observedState(t, x);
  const finding = fail ? failingFinding(d) : undefined;
  const card = h(
    'div',
    {
      class: `hop k-${x.kind}${rw.length ? ' rewrite' : ''}${fail ? ' fail' : ''}${seen ? ` ${seen}` : ''}`,
      'data-observed': seen,
      role: 'button',
      tabindex: 0,
      'data-step': x.step,
      'data-kind': x.kind,
      'aria-label': `step ${x.step}, ${x.kind}${x.hook ? ` ${x.hook}` : ''}: ${hopHeadline(x)}`,
      onclick: () => a.select(x.step),
      onkeydown: (e: Event) => {
        const k = (e as KeyboardEvent).key;
        if (k === 'Enter' || k === ' ') {
          e.preventDefault();
          a.select(x.step);
        }
      },
    },
    h('div', { class: 'hop-head' }, h('span', { class: 'kind' }, x.kind === 'proxy' ? 'kube-proxy' : x.kind), x.hook ? h('span', { class: 'hook' }, x.hook) : null, fail ? h('span', { class: 'badge bad' }, t.verdict) : null, seen ? h('span', { class: `badge ${seen === 'observed' ? 'ok' : 'warn'}`, title: seen === 'observed' ? 'the probe was seen taking this step' : 'the probe was not seen here' }, seen === 'observed' ? '● observed' : '○ not seen') : null),
    h('div', { class: 'hop-what' }, hopHeadline(x)),
    x.rule ? h('div', { class: 'hop-rule mono dim' }, `${x.rule.table} ${x.rule.chain}`) : null,
    x.object ? h('div', { class: 'hop-obj' }, objectName(x.object)) : null,
    rw.length ? h('div', { class: 'hop-pkt' }, h('span', { class: 'was mono' }, packetLine(x.packet.before)), h('span', { class: 'arrow', 'aria-hidden': 'true' }, '⇒'), packetLine(x.packet.after, rw)) : null,
    finding ? h('div', { class: 'hop-diagnosis', 'data-check': finding.check }, h('span', { class: 'badge bad' }, `diagnose: ${finding.check}`), ' ', finding.summary) : null,
  );
  return card;
}

/** The swimlane: lane headers, then for each step its card in its lane, and an arrow where the packet moves between places. */
export function swimlane(t: Trace, a: PathActions, d?: Diagnosis): HTMLElement {
  const lanes: string[] = [];
  for (const x of t.hops) if (!lanes.includes(placeOf(x))) lanes.push(placeOf(x));
  // A lane with more steps (a node's netfilter hooks) gets more room; every row is its own grid
  // with the same columns, so the lanes line up.
  const weight = lanes.map((l) => Math.max(1, Math.sqrt(t.hops.filter((x) => placeOf(x) === l).length / 2)).toFixed(2));
  const cols = `2.2rem ${weight.map((w) => `minmax(10rem, ${w}fr)`).join(' ')}`;
  const row = (cls: string, cells: Node[]) => {
    const r = h('div', { class: `lane-row ${cls}` }, cells);
    r.style.gridTemplateColumns = cols;
    return r;
  };
  const rows: HTMLElement[] = [
    row(
      'lane-heads',
      [h('div', {}), ...lanes.map((l) => {
        const { title, sub } = laneTitle(l);
        return h('div', { class: `lane-head ${l.split('/')[0]}`, 'data-lane': l }, h('strong', {}, title), h('span', { class: 'dim' }, sub));
      })],
    ),
  ];
  let at: number | undefined;
  for (const x of t.hops) {
    const lane = lanes.indexOf(placeOf(x));
    if (at !== undefined && at !== lane) {
      const [lo, hi] = [Math.min(at, lane), Math.max(at, lane)];
      const cells: Node[] = [h('div', {})];
      for (let i = 0; i < lanes.length; i++) {
        if (i < lo || i > hi) cells.push(h('div', { class: 'lane-line' }));
        else if (i === lo) {
          const span = h('div', { class: `transit ${lane > at ? 'right' : 'left'}${x.kind === 'reply' ? ' reply' : ''}` }, packetLine(x.packet.before));
          span.style.gridColumn = `span ${hi - lo + 1}`;
          cells.push(span);
        }
      }
      rows.push(row('move', cells));
    }
    at = lane;
    const cells: Node[] = [h('div', { class: 'step-no', 'aria-hidden': 'true' }, String(x.step))];
    for (let i = 0; i < lanes.length; i++) cells.push(i === lane ? hopCard(t, x, a, d) : h('div', { class: 'lane-line' }));
    rows.push(row('step', cells));
  }
  const lane = h('div', { class: 'swimlane', role: 'list', 'aria-label': 'the path, step by step' }, rows);
  lane.style.minWidth = `calc(2.2rem + ${lanes.length} * 10rem)`;
  // Arrow keys move between steps, as in a list.
  lane.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
    const cards = [...lane.querySelectorAll<HTMLElement>('.hop')];
    const i = cards.indexOf(document.activeElement as HTMLElement);
    const next = e.key === 'Home' ? 0 : e.key === 'End' ? cards.length - 1 : Math.max(0, Math.min(cards.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
    cards[next]?.focus();
    cards[next]?.scrollIntoView({ block: 'nearest' });
    e.preventDefault();
  });
  return lane;
}

/** A probability bar's filling (set through the CSSOM: the page's policy allows no inline style attributes). */
function fill(p: number): HTMLElement {
  const f = h('span', { class: 'fill' });
  f.style.width = `${Math.round(p * 100)}%`;
  return f;
}

/** Every random choice with its candidates and their probabilities; choosing one traces again following it. */
export function candidatesView(t: Trace, a: PathActions): HTMLElement | null {
  if (!t.candidates.length) return null;
  const groups = new Map<string, Candidate[]>();
  for (const c of t.candidates) groups.set(c.by, [...(groups.get(c.by) ?? []), c]);
  return h(
    'section',
    { class: 'candidates', 'aria-label': 'endpoint choices' },
    [...groups].map(([by, cs]) =>
      h(
        'div',
        { class: 'choice' },
        h('h3', {}, 'random choice at ', h('span', { class: 'mono' }, by)),
        h(
          'ul',
          {},
          cs.map((c) =>
            h(
              'li',
              { class: c.chosen ? 'chosen' : '' },
              h(
                'button',
                { class: 'cand', 'data-candidate': c.pod, 'aria-pressed': c.chosen ? 'true' : 'false', title: c.chosen ? 'the path follows this endpoint' : 'trace again following this endpoint', onclick: () => a.pickEndpoint(c) },
                h('span', { class: 'bar', 'aria-hidden': 'true' }, fill(c.probability)),
                h('span', { class: 'p mono' }, `${(c.probability * 100).toFixed(1)}%`),
                h('span', { class: 'name' }, c.pod),
                h('span', { class: 'mono dim' }, `${c.ip}:${c.port}`),
                c.chosen ? h('span', { class: 'badge ok' }, 'followed') : null,
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** The evidence for one step: where, the packet before and after, the rule, the object, the note. */
export function evidence(t: Trace, step: number | undefined, a: PathActions, d?: Diagnosis): HTMLElement {
  const x = t.hops.find((y) => y.step === step);
  if (!x) return h('aside', { class: 'evidence empty', 'aria-label': 'evidence' }, h('p', { class: 'dim' }, 'Choose a step (click it, or Tab to it and press Enter) to see the rule, the packet and the object behind it.'));
  const by = x.rule ? `${x.rule.table} ${x.rule.chain}` : undefined;
  const cands = t.candidates.filter((c) => c.by === by);
  const fail = failingStep(t) === x.step;
  const seen = observedState(t, x);
  return h(
    'aside',
    { class: `evidence${fail ? ' fail' : ''}`, 'aria-label': `evidence for step ${x.step}`, 'data-step': x.step },
    h('h2', {}, `Step ${x.step} · ${x.kind}`),
    fail && d ? diagnosisView(d) : null,
    h('dl', { class: 'facts' }, h('dt', {}, 'where'), h('dd', {}, placeOf(x)), seen ? [h('dt', {}, 'observed'), h('dd', {}, seen === 'observed' ? 'yes: the probe took this step' : 'no: the probe was not seen taking it')] : null, x.hook ? [h('dt', {}, 'hook'), h('dd', {}, x.hook)] : null, h('dt', {}, 'before'), h('dd', {}, packetLine(x.packet.before)), h('dt', {}, 'after'), h('dd', {}, packetLine(x.packet.after, x.packet.rewritten)), x.packet.rewritten.length ? [h('dt', {}, 'rewritten'), h('dd', {}, x.packet.rewritten.map((f) => h('mark', { class: fieldClass(f) }, f)), ' ')] : null),
    x.rule ? h('section', {}, h('h3', {}, 'rule ', h('span', { class: 'mono dim' }, `${x.rule.table} ${x.rule.chain}`)), h('pre', { class: 'rule-text' }, x.rule.text), x.rule.action ? h('p', {}, 'action: ', h('strong', {}, x.rule.action)) : null) : null,
    cands.length ? h('section', {}, h('h3', {}, 'endpoints of this choice'), h('ul', { class: 'plain' }, cands.map((c) => h('li', { class: c.chosen ? 'chosen' : '' }, `${(c.probability * 100).toFixed(1)}% `, h('span', { class: 'mono' }, `${c.ip}:${c.port}`), ` ${c.pod}`, c.chosen ? ' (followed)' : '')))) : null,
    x.object ? h('section', {}, h('h3', {}, 'object'), h('button', { class: 'link', 'data-object': objectName(x.object), onclick: () => a.showObject(x.object!.kind, x.object!.namespace, x.object!.name) }, objectName(x.object), ' — YAML')) : null,
    h('section', {}, h('h3', {}, x.kind === 'conntrack' ? 'conntrack entry' : 'what happened'), x.kind === 'conntrack' ? h('pre', {}, x.note) : h('p', { class: 'note' }, x.note)),
  );
}

/** diagnose's verdict on a failing path: its first failing check, what it found, the fix, the evidence. */
export function diagnosisView(d: Diagnosis): HTMLElement {
  const f = failingFinding(d);
  if (!f) return h('section', { class: 'diagnosis', 'data-check': '' }, h('h3', {}, 'diagnose'), h('p', {}, `every check passed (${d.source}); the trace: ${d.trace?.reason ?? 'not traced'}`));
  return h(
    'section',
    { class: 'diagnosis', 'data-check': f.check, 'aria-label': 'diagnose finding' },
    h('h3', {}, 'diagnose: failing at ', h('strong', {}, f.check), h('span', { class: 'dim' }, ` (${d.source})`)),
    h('p', { class: 'summary' }, f.summary),
    f.fix ? h('p', { class: 'fix' }, 'fix: ', f.fix) : null,
    f.evidence.length ? h('pre', {}, f.evidence.join('\n')) : null,
  );
}

/** What the probe showed: the kernel's verdict, the endpoint it chose, and every difference from the computed path. */
export function observationView(t: Trace): HTMLElement | null {
  const o = t.observed;
  if (!o) return null;
  const ep = o.endpoint;
  return h(
    'section',
    { class: `observation ${o.verdict}`, 'aria-label': 'observed path', 'data-observed-verdict': o.verdict },
    h('h3', {}, 'observed: ', h('strong', {}, o.verdict), h('span', { class: 'dim' }, ` · ${o.hops.length} hops seen in ${o.watched.length} namespaces, ${Math.round(o.timeMs)} ms`)),
    h('p', {}, o.reason),
    h('p', { class: 'kernel-endpoint', 'data-endpoint': ep?.pod ?? '' }, 'the kernel chose ', ep ? [h('strong', {}, ep.pod), ' ', h('span', { class: 'mono' }, `${ep.ip}:${ep.port}`)] : 'no endpoint'),
    h('p', { class: 'dim' }, `probe ${o.probe.ok ? 'answered' : `failed${o.probe.error ? `: ${o.probe.error}` : ''}`}`, o.probe.remote ? ` (connected to ${o.probe.remote})` : ''),
    o.differences.length ? h('div', {}, h('h3', {}, `${o.differences.length} difference${o.differences.length === 1 ? '' : 's'} from the computed path`), h('ul', { class: 'differences' }, o.differences.map((x) => h('li', {}, x)))) : h('p', { class: 'same' }, '✓ the kernel took the computed path'),
  );
}
