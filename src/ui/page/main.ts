// podpath ui's page: a header with the cluster's state and three views — topology (live, pushed
// by the server over Server-Sent Events), a packet's path (observed on request in a lab, and
// diagnosed where it fails), and a node's rules. Keyboard: t, p, r
// switch views; / goes to the destination; arrows move between steps; Escape closes a dialog.
import type { Diagnosis } from '../../diagnose/types.ts';
import type { Candidate, Trace } from '../../trace/types.ts';
import type { RuleTree } from '../rules.ts';
import type { IngressView, PodView, ServiceView, Topology } from '../topology.ts';
import { clear, getJSON, getText, h } from './dom.ts';
import { candidatesView, evidence, observationView, swimlane, verdictBanner } from './path.ts';
import { rulesView } from './rules.ts';
import { topologyView } from './topology.ts';
import './style.css';

type Tab = 'topology' | 'path' | 'rules';

interface PathQuery {
  from: string;
  to: string;
  protocol: string;
  endpoint: string[];
}

const state: {
  topo?: Topology;
  tab: Tab;
  query: PathQuery;
  trace?: Trace;
  /** the trace exactly as the server sent it: `podpath trace -o json` */
  traceText?: string;
  step?: number;
  /** `podpath diagnose`'s answer for a path that fails */
  diagnosis?: Diagnosis;
  /** an observation under way */
  observing?: boolean;
  /** why the last Observe failed */
  observeError?: string;
  /** the cluster changed since the observation shown */
  stale?: boolean;
  rulesNode?: string;
} = { tab: 'topology', query: { from: 'client', to: '', protocol: 'tcp', endpoint: [] } };

const app = document.getElementById('app')!;
const status = h('span', { class: 'status', role: 'status', 'aria-live': 'polite' }, 'connecting…');
const views: Record<Tab, HTMLElement> = {
  topology: h('section', { id: 'view-topology', role: 'tabpanel', 'aria-labelledby': 'tab-topology' }),
  path: h('section', { id: 'view-path', role: 'tabpanel', 'aria-labelledby': 'tab-path' }),
  rules: h('section', { id: 'view-rules', role: 'tabpanel', 'aria-labelledby': 'tab-rules' }),
};
const tabs = (['topology', 'path', 'rules'] as Tab[]).map((t) =>
  h('button', { role: 'tab', id: `tab-${t}`, 'aria-controls': `view-${t}`, title: `${t} (${t[0]})`, onclick: () => show(t) }, t === 'path' ? 'Path' : t === 'rules' ? 'Rules' : 'Topology', h('kbd', {}, t[0]!)),
);
const tablist = h('nav', { role: 'tablist', 'aria-label': 'views' }, tabs);
tablist.addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
  const i = tabs.indexOf(document.activeElement as HTMLButtonElement);
  const next = tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]!;
  next.focus();
  next.click();
});

// The dialog that shows an object's YAML or an export.
const dialogTitle = h('h2', {});
const dialogText = h('pre', { id: 'dialog-text' });
const dialogDownload = h('a', { class: 'btn', download: '' }, 'Download');
const dialogCopy = h('button', { class: 'btn', onclick: () => void navigator.clipboard?.writeText(dialogText.textContent ?? '') }, 'Copy');
const dialog = h('dialog', { 'aria-labelledby': 'dialog-title' }, h('header', {}, dialogTitle, h('div', { class: 'actions' }, dialogCopy, dialogDownload, h('button', { class: 'btn', onclick: () => dialog.close() }, 'Close'))), dialogText);
dialogTitle.id = 'dialog-title';
let blobURL: string | undefined;
function openDialog(title: string, text: string, file: string, type: string) {
  dialogTitle.textContent = title;
  dialogText.textContent = text;
  if (blobURL) URL.revokeObjectURL(blobURL);
  blobURL = URL.createObjectURL(new Blob([text], { type }));
  dialogDownload.href = blobURL;
  dialogDownload.download = file;
  dialog.showModal();
}

async function showObject(kind: string, namespace: string | undefined, name: string) {
  const q = new URLSearchParams({ kind, name, ...(namespace ? { namespace } : {}) });
  try {
    openDialog(`${kind} ${namespace ? `${namespace}/` : ''}${name}`, await getText(`/api/object?${q}`), `${kind.toLowerCase()}-${name}.yaml`, 'text/yaml');
  } catch (e) {
    openDialog(`${kind} ${name}`, (e as Error).message, 'error.txt', 'text/plain');
  }
}

app.append(h('header', { class: 'top' }, h('h1', {}, 'podpath', h('span', { class: 'dim' }, ' ui')), tablist, status), h('main', {}, Object.values(views)), dialog);

function show(t: Tab) {
  state.tab = t;
  for (const b of tabs) b.setAttribute('aria-selected', String(b.id === `tab-${t}`));
  for (const [k, v] of Object.entries(views)) v.hidden = k !== t;
  if (t === 'rules') void loadRules();
  if (t === 'path') renderPathForm();
}

document.addEventListener('keydown', (e) => {
  const el = e.target as HTMLElement;
  if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) || dialog.open) return;
  const map: Record<string, Tab> = { t: 'topology', p: 'path', r: 'rules' };
  if (map[e.key]) {
    show(map[e.key]!);
    document.getElementById(`tab-${map[e.key]}`)?.focus();
    e.preventDefault();
  } else if (e.key === '/') {
    show('path');
    document.getElementById('path-to')?.focus();
    e.preventDefault();
  }
});

// ---- topology

const firstNodeIP = () => state.topo?.nodes[0]?.addresses.find((a) => a.type === 'InternalIP')?.address ?? '';

function traceTo(to: string, from?: string) {
  state.query = { ...state.query, to, endpoint: [], ...(from ? { from } : {}) };
  show('path');
  void runTrace();
}

const topologyActions = {
  traceService(s: ServiceView) {
    const p = s.ports[0];
    if (!p) return;
    const from = state.query.from;
    // From the client only what is exposed outside the cluster is reachable.
    if (from === 'client' && s.loadBalancerIPs[0]) traceTo(`${s.loadBalancerIPs[0]}:${p.port}`);
    else if (from === 'client' && p.nodePort) traceTo(`${firstNodeIP()}:${p.nodePort}`);
    else traceTo(`svc/${s.namespace}/${s.name}:${p.port}`, from === 'client' ? `node/${state.topo?.nodes[0]?.name ?? ''}` : undefined);
  },
  traceIngress(i: IngressView, host: string, path: string) {
    traceTo(`${i.tlsHosts.includes(host) ? 'https' : 'http'}://${host === '*' ? (i.loadBalancerIPs[0] ?? '') : host}${path}`, state.query.from);
  },
  tracePod(p: PodView) {
    traceTo(`${p.ip}:${p.ports[0]?.port ?? 80}`);
  },
  showObject: (k: string, ns: string | undefined, n: string) => void showObject(k, ns, n),
};

function renderTopology() {
  if (!state.topo) return;
  const t = state.topo;
  clear(views.topology, topologyView(t, topologyActions));
  views.topology.dataset.generation = String(t.generation);
}

function onTopology(t: Topology) {
  const changed = state.topo !== undefined && state.topo.generation !== t.generation;
  state.topo = t;
  renderTopology();
  const pods = t.nodes.reduce((n, x) => n + x.namespaces.reduce((m, ns) => m + ns.pods.length, 0), 0);
  status.textContent = `${t.live ? '● live' : 'offline file'} · ${t.mode} · ${t.nodes.length} node${t.nodes.length === 1 ? '' : 's'}, ${pods} pods, ${t.services.length} Services`;
  status.className = `status ${t.live ? 'live' : 'file'}`;
  // The form is made again only when what it offers changed: made again, it would lose what is
  // being typed, and a click landing as it is replaced
  if (state.tab === 'path') {
    const choices = pathFormChoices(t);
    if (choices.key !== shownChoices) renderPathForm(choices);
  }
  // An observation is a snapshot of what the kernel did: a change marks it stale (Trace or Observe
  // again) instead of replacing it — nor does one arriving while it runs discard its result.
  if (changed && state.trace && (state.observing || state.trace.observed)) {
    state.stale = true;
    if (state.tab === 'path') renderPath();
  } else if (changed && state.trace && state.tab === 'path') void runTrace(true);
  if (changed && state.tab === 'rules') void loadRules();
}

const events = new EventSource('/api/events');
events.addEventListener('topology', (e) => onTopology(JSON.parse((e as MessageEvent<string>).data) as Topology));
events.addEventListener('error', () => {
  status.textContent = 'disconnected — retrying…';
  status.className = 'status down';
});

// ---- path

const pathForm = h('form', { class: 'path-form', 'aria-label': 'trace a connection' });
const pathBody = h('div', { class: 'path-body' });
views.path.append(pathForm, pathBody);

function destinations(t: Topology): string[] {
  const out: string[] = [];
  for (const s of t.services) {
    for (const p of s.ports) {
      if (p.nodePort) for (const n of t.nodes) out.push(`${n.addresses.find((a) => a.type === 'InternalIP')?.address}:${p.nodePort}`);
      for (const ip of s.loadBalancerIPs) out.push(`${ip}:${p.port}`);
      out.push(`svc/${s.namespace}/${s.name}:${p.port}`);
    }
  }
  for (const i of t.ingresses) for (const r of i.rules) for (const p of r.paths) if (r.host !== '*') out.push(`${i.tlsHosts.includes(r.host) ? 'https' : 'http'}://${r.host}${p.path}`);
  for (const n of t.nodes) for (const ns of n.namespaces) for (const p of ns.pods) if (p.ip && p.ports[0]) out.push(`${p.ip}:${p.ports[0].port}`);
  return [...new Set(out)];
}

/** The sources a trace can start from in a topology. */
function sourcesOf(t: Topology | undefined): string[] {
  return ['client', ...(t?.nodes.map((n) => `node/${n.name}`) ?? []), ...(t?.nodes.flatMap((n) => n.namespaces.flatMap((ns) => ns.pods.filter((p) => !p.hostNetwork).map((p) => `pod/${p.namespace}/${p.name}`))) ?? [])];
}

/** What the path form offers from a topology: its sources and destinations, and `key`, those and whether Observe is there as one string. */
function pathFormChoices(t: Topology | undefined): { sources: string[]; destinations: string[]; key: string } {
  const sources = sourcesOf(t);
  const dests = t ? destinations(t) : [];
  return { sources, destinations: dests, key: JSON.stringify([sources, dests, Boolean(t?.observe)]) };
}
let shownChoices = '';
/** The query the form was last made with: while it is still the one shown, what the user typed since stays. */
let formMadeWith: Pick<PathQuery, 'from' | 'to' | 'protocol'> | undefined;

/** The form's values as they stand, when the user may have changed them since it was made from the query shown. */
function typedValues(): Pick<PathQuery, 'from' | 'to' | 'protocol'> | undefined {
  const q = state.query;
  if (!formMadeWith || formMadeWith.from !== q.from || formMadeWith.to !== q.to || formMadeWith.protocol !== q.protocol) return undefined;
  const value = (id: string) => pathForm.querySelector<HTMLInputElement | HTMLSelectElement>(`#${id}`)?.value;
  return { from: value('path-from') ?? q.from, to: value('path-to') ?? q.to, protocol: value('path-protocol') ?? q.protocol };
}

/** The path form, made from the query shown (or what is being typed into it) and `choices` (those of the current topology). */
function renderPathForm(choices = pathFormChoices(state.topo)) {
  shownChoices = choices.key;
  const typed = typedValues() ?? state.query;
  formMadeWith = { from: state.query.from, to: state.query.to, protocol: state.query.protocol };
  const focused = document.activeElement?.id === 'path-to' ? document.activeElement as HTMLInputElement : undefined;
  const caret = focused ? [focused.selectionStart, focused.selectionEnd] : undefined;
  const sources = [...choices.sources];
  if (!sources.includes(typed.from)) sources.push(typed.from);
  const from = h('select', { id: 'path-from', name: 'from' }, sources.map((s) => h('option', { value: s, selected: s === typed.from }, s)));
  const to = h('input', { id: 'path-to', name: 'to', type: 'text', list: 'path-to-list', value: typed.to, placeholder: 'http://192.168.49.2:30080/health, svc/default/api-service:8080, 10.244.0.5:8080', required: true, autocomplete: 'off', spellcheck: 'false' });
  const protocol = h('select', { id: 'path-protocol', name: 'protocol' }, ['tcp', 'udp'].map((p) => h('option', { value: p, selected: p === typed.protocol }, p.toUpperCase())));
  const list = h('datalist', { id: 'path-to-list' }, choices.destinations.map((d) => h('option', { value: d })));
  clear(
    pathForm,
    h('label', {}, 'from', from),
    h('label', { class: 'grow' }, 'to', to),
    list,
    h('label', {}, 'protocol', protocol),
    h('button', { class: 'btn primary', type: 'submit', id: 'path-go' }, 'Trace'),
    state.topo?.observe && state.trace ? h('button', { class: 'btn', type: 'button', id: 'path-observe', disabled: state.observing, 'aria-busy': state.observing ? 'true' : undefined, title: 'send one probe of this connection and mark each step the kernel reports (podpath trace --observe)', onclick: () => void observe() }, state.observing ? 'Observing…' : 'Observe') : null,
    state.trace ? h('span', { class: 'exports' }, h('button', { class: 'btn', type: 'button', id: 'export-mermaid', onclick: () => void exportMermaid() }, 'Mermaid'), h('button', { class: 'btn', type: 'button', id: 'export-json', onclick: () => openDialog('trace JSON (podpath trace -o json)', state.traceText ?? '', 'trace.json', 'application/json') }, 'JSON')) : null,
  );
  pathForm.onsubmit = (e) => {
    e.preventDefault();
    state.query = { from: from.value, to: to.value.trim(), protocol: protocol.value, endpoint: [] };
    void runTrace();
  };
  if (focused && caret) {
    to.focus();
    to.setSelectionRange(caret[0], caret[1]);
  }
}

const traceQuery = (extra: Record<string, string> = {}) => {
  const q = new URLSearchParams({ from: state.query.from, to: state.query.to, protocol: state.query.protocol, ...extra });
  for (const e of state.query.endpoint) q.append('endpoint', e);
  return q;
};

async function exportMermaid() {
  try {
    openDialog('trace as a Mermaid sequence diagram (podpath trace -o mermaid)', await getText(`/api/trace?${traceQuery({ output: 'mermaid' })}`), 'trace.mmd', 'text/plain');
  } catch (e) {
    openDialog('Mermaid', (e as Error).message, 'error.txt', 'text/plain');
  }
}

const pathActions = {
  select(step: number) {
    state.step = step;
    renderPath();
    document.querySelector<HTMLElement>(`.hop[data-step="${step}"]`)?.focus();
  },
  pickEndpoint(c: Candidate) {
    state.query.endpoint = [c.pod.includes('/') ? c.pod : c.ip];
    void runTrace();
  },
  showObject: (k: string, ns: string | undefined, n: string) => void showObject(k, ns, n),
};

let traceSeq = 0;
async function runTrace(keepStep = false) {
  if (!state.query.to) return;
  const seq = ++traceSeq;
  views.path.setAttribute('aria-busy', 'true');
  try {
    const text = await getText(`/api/trace?${traceQuery()}`);
    if (seq !== traceSeq) return;
    const before = state.trace?.verdict;
    const tr = showTrace(text);
    // a re-trace after a change keeps the step shown, unless the outcome changed
    if (!keepStep || before !== tr.verdict || !tr.hops.some((x) => x.step === state.step)) {
      // open on the step that matters: where it failed, else the first rewrite to the endpoint
      const fail = tr.verdict !== 'delivered' ? tr.hops[tr.hops.length - 1] : undefined;
      state.step = (fail ?? tr.hops.find((x) => x.packet.rewritten.includes('dst')) ?? tr.hops[0])?.step;
    }
    renderPathForm();
    renderPath();
  } catch (e) {
    if (seq !== traceSeq) return;
    state.trace = undefined;
    state.traceText = undefined;
    state.diagnosis = undefined;
    renderPathForm();
    clear(pathBody, h('div', { class: 'error', role: 'alert' }, (e as Error).message));
  } finally {
    views.path.removeAttribute('aria-busy');
  }
}

/** A trace as the server sent it becomes the one shown; where it fails, diagnose is asked why. */
function showTrace(text: string): Trace {
  const t = JSON.parse(text) as Trace;
  state.traceText = text;
  state.trace = t;
  state.diagnosis = undefined;
  state.observeError = undefined;
  state.stale = false;
  if (t.verdict !== 'delivered') void loadDiagnosis(traceSeq);
  return t;
}

async function loadDiagnosis(seq: number) {
  try {
    const d = await getJSON<Diagnosis>(`/api/diagnose?${traceQuery()}`);
    if (seq !== traceSeq) return;
    state.diagnosis = d;
  } catch (e) {
    if (seq !== traceSeq) return;
    state.diagnosis = undefined;
    state.observeError = `diagnose: ${(e as Error).message}`;
  }
  renderPath();
}

/** Observe: the server sends one probe and reports the path the kernel took beside the computed one. */
async function observe() {
  if (state.observing) return;
  const seq = ++traceSeq;
  state.observing = true;
  state.observeError = undefined;
  renderPathForm();
  renderPath();
  try {
    const text = await getText(`/api/observe?${traceQuery()}`, { method: 'POST' });
    if (seq !== traceSeq) return;
    const tr = showTrace(text);
    // open on the step the kernel was not seen taking, else keep the one shown
    const unseen = tr.hops.find((x) => x.observed === false);
    if (unseen) state.step = unseen.step;
    else if (!tr.hops.some((x) => x.step === state.step)) state.step = tr.hops[0]?.step;
  } catch (e) {
    if (seq === traceSeq) state.observeError = (e as Error).message;
  } finally {
    state.observing = false;
    renderPathForm();
    renderPath();
  }
}

function renderPath() {
  const t = state.trace;
  if (!t) return clear(pathBody, h('p', { class: 'dim hint' }, 'Pick a source and a destination, or press Trace beside a Service or an Ingress in the topology.'));
  const scroll = pathBody.querySelector('.lane-wrap')?.scrollTop ?? 0;
  const d = state.diagnosis;
  const wrap = h('div', { class: 'lane-wrap' }, swimlane(t, pathActions, d));
  const notice = state.observing
    ? h('div', { class: 'notice', role: 'status' }, 'Observing: one probe of this connection, its packets traced in every namespace on the path…')
    : state.observeError
      ? h('div', { class: 'error', role: 'alert', id: 'observe-error' }, state.observeError)
      : state.stale && t.observed
        ? h('div', { class: 'notice', role: 'status', id: 'observe-stale' }, 'The cluster changed since this observation: Trace or Observe again.')
        : null;
  clear(pathBody, verdictBanner(t), notice, h('div', { class: 'path-main' }, wrap, h('div', { class: 'side' }, observationView(t), candidatesView(t, pathActions), evidence(t, state.step, pathActions, d))));
  wrap.scrollTop = scroll;
  for (const c of pathBody.querySelectorAll('.hop')) c.classList.toggle('selected', (c as HTMLElement).dataset.step === String(state.step));
  views.path.dataset.traceTo = t.to;
}

// ---- rules

async function loadRules() {
  const t = state.topo;
  if (!t) return;
  const nodes = t.nodes.map((n) => n.name);
  if (!state.rulesNode || !nodes.includes(state.rulesNode)) state.rulesNode = nodes[0];
  const sel = h('select', { id: 'rules-node', onchange: (e: Event) => ((state.rulesNode = (e.target as HTMLSelectElement).value), void loadRules()) }, nodes.map((n) => h('option', { value: n, selected: n === state.rulesNode }, n)));
  const head = h('div', { class: 'rules-head' }, h('label', {}, 'node', sel), h('button', { class: 'btn small', id: 'rules-refresh', onclick: () => void loadRules() }, 'Refresh'));
  if (!state.rulesNode) return clear(views.rules, head, h('p', {}, 'no nodes'));
  try {
    const tree = await getJSON<RuleTree>(`/api/rules?node=${encodeURIComponent(state.rulesNode)}`);
    clear(views.rules, head, rulesView(tree));
  } catch (e) {
    clear(views.rules, head, h('div', { class: 'error', role: 'alert' }, (e as Error).message));
  }
}

show('topology');
renderPath();
