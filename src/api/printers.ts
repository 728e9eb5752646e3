// Server-side Table columns and cells for every served kind, as kube-apiserver's printers
// (pkg/printers/internalversion) produce them for `kubectl get`.
import { ageSince, humanDuration } from './duration.ts';
import { formatLabels, formatLabelSelector, fromLabelSelector, selectorString } from './labels.ts';
import { fieldDescription } from './schema.ts';
import type {
  Container,
  ContainerStatus,
  ControllerRevision,
  CronJob,
  DaemonSet,
  Deployment,
  EndpointSlice,
  Endpoints,
  Event,
  Ingress,
  IngressClass,
  Job,
  KubeObject,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
  ReplicaSet,
  RoleBinding,
  Service,
} from './types.ts';
import { isObject } from './types.ts';

export interface ColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'boolean' | 'number' | 'date';
  format: string;
  description: string;
  priority: number;
}

export type Cell = string | number | boolean;

export interface TableRowData {
  cells: Cell[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

export interface Printer {
  columns: ColumnDefinition[];
  row(obj: KubeObject, now: number): TableRowData;
}

function col(name: string, type: ColumnDefinition['type'], description: string, priority = 0, format = ''): ColumnDefinition {
  return { name, type, format, description, priority };
}

const d = fieldDescription;
const nameCol = () => col('Name', 'string', d('V1ObjectMeta', 'name'), 0, 'name');
const ageCol = () => col('Age', 'string', d('V1ObjectMeta', 'creationTimestamp'));
const age = (o: KubeObject, now: number) => ageSince(o.metadata.creationTimestamp, now);

function layoutContainers(containers: Container[] | undefined): [string, string] {
  const cs = containers ?? [];
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image ?? '').join(',')];
}

/** Up to `max` items joined by ",", then " + N more...". */
function listWithMore(items: string[], max: number, empty: string): string {
  if (items.length === 0) return empty;
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

// ---- Pod ----

function isRestartableInit(c: Container | undefined): boolean {
  return c?.restartPolicy === 'Always';
}

function podRow(pod: Pod, now: number): TableRowData {
  const spec = pod.spec ?? { containers: [] };
  const status = pod.status ?? {};
  let restarts = 0;
  let restartableInitRestarts = 0;
  let total = spec.containers?.length ?? 0;
  let ready = 0;
  let lastRestart = 0;
  let lastRestartableInitRestart = 0;
  const phase = status.phase ?? '';
  let reason = status.reason || phase;
  for (const c of status.conditions ?? []) if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  const row: TableRowData = { cells: [] };
  if (phase === 'Succeeded') row.conditions = [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
  if (phase === 'Failed') row.conditions = [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
  const inits = new Map((spec.initContainers ?? []).map((c) => [c.name, c]));
  for (const c of spec.initContainers ?? []) if (isRestartableInit(c)) total++;
  const finished = (cs: ContainerStatus) => Date.parse(cs.lastState?.terminated?.finishedAt ?? '') || 0;

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    restarts += cs.restartCount ?? 0;
    lastRestart = Math.max(lastRestart, finished(cs));
    const restartable = isRestartableInit(inits.get(cs.name));
    if (restartable) {
      restartableInitRestarts += cs.restartCount ?? 0;
      lastRestartableInitRestart = Math.max(lastRestartableInitRestart, finished(cs));
    }
    const term = cs.state?.terminated;
    const wait = cs.state?.waiting;
    if (term && term.exitCode === 0) continue;
    if (restartable && cs.started) {
      if (cs.ready) ready++;
      continue;
    }
    if (term) {
      reason = term.reason ? `Init:${term.reason}` : term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode}`;
      initializing = true;
    } else if (wait?.reason && wait.reason !== 'PodInitializing') {
      reason = `Init:${wait.reason}`;
      initializing = true;
    } else {
      reason = `Init:${i}/${spec.initContainers?.length ?? 0}`;
      initializing = true;
    }
    break;
  }
  const initializedTrue = (status.conditions ?? []).some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initializedTrue) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const css = status.containerStatuses ?? [];
    for (let i = css.length - 1; i >= 0; i--) {
      const cs = css[i]!;
      restarts += cs.restartCount ?? 0;
      lastRestart = Math.max(lastRestart, finished(cs));
      const st = cs.state ?? {};
      if (st.waiting?.reason) reason = st.waiting.reason;
      else if (st.terminated?.reason) reason = st.terminated.reason;
      else if (st.terminated) reason = st.terminated.signal ? `Signal:${st.terminated.signal}` : `ExitCode:${st.terminated.exitCode}`;
      else if (cs.ready && st.running) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
    }
  }
  if (pod.metadata.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  const restartsStr = restarts !== 0 && lastRestart ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  const podIP = status.podIPs?.[0]?.ip || '<none>';
  let gates = '<none>';
  if (spec.readinessGates?.length) {
    const trueCount = spec.readinessGates.filter((g) => (status.conditions ?? []).find((c) => c.type === g.conditionType)?.status === 'True').length;
    gates = `${trueCount}/${spec.readinessGates.length}`;
  }
  row.cells = [pod.metadata.name ?? '', `${ready}/${total}`, reason, restartsStr, age(pod, now), podIP, spec.nodeName || '<none>', status.nominatedNodeName || '<none>', gates];
  return row;
}

// ---- Service ----

function lbIngressString(ingress: { ip?: string; hostname?: string }[] | undefined): string {
  const seen: string[] = [];
  for (const i of ingress ?? []) {
    const v = i.ip || i.hostname;
    if (v && !seen.includes(v)) seen.push(v);
  }
  return seen.join(',');
}

export function serviceExternalIP(svc: Service): string {
  const s = svc.spec ?? {};
  switch (s.type) {
    case 'ClusterIP':
    case 'NodePort':
      return s.externalIPs?.length ? s.externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = lbIngressString(svc.status?.loadBalancer?.ingress);
      if (s.externalIPs?.length) return [...(lb ? lb.split(',') : []), ...s.externalIPs].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return s.externalName ?? '';
    default:
      return '<unknown>';
  }
}

export function servicePorts(svc: Service): string {
  const ports = (svc.spec?.ports ?? []).map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`));
  return ports.length ? ports.join(',') : '<none>';
}

// ---- Node ----

function nodeRoles(node: Node): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(',') : '<none>';
}

function nodeRow(node: Node, now: number): TableRowData {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const status: string[] = [];
  if (ready) status.push(ready.status === 'True' ? 'Ready' : 'NotReady');
  if (!status.length) status.push('Unknown');
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  const info = node.status?.nodeInfo ?? {};
  const addr = (t: string) => node.status?.addresses?.find((a) => a.type === t)?.address ?? '<none>';
  return {
    cells: [
      node.metadata.name ?? '',
      status.join(','),
      nodeRoles(node),
      age(node, now),
      info.kubeletVersion ?? '',
      addr('InternalIP'),
      addr('ExternalIP'),
      info.osImage || '<unknown>',
      info.kernelVersion || '<unknown>',
      info.containerRuntimeVersion || '<unknown>',
    ],
  };
}

// ---- Endpoints, EndpointSlice ----

function endpointsCell(ep: Endpoints): string {
  const subsets = ep.subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const list: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addrs = ss.addresses ?? [];
    if (!ss.ports?.length) {
      count += addrs.length;
      for (const a of addrs) if (list.length < 3) list.push(a.ip);
      continue;
    }
    for (const port of ss.ports) {
      count += addrs.length;
      for (const a of addrs) if (list.length < 3) list.push(a.ip.includes(':') ? `[${a.ip}]:${port.port}` : `${a.ip}:${port.port}`);
    }
  }
  const s = list.join(',');
  return count > 3 ? `${s} + ${count - 3} more...` : s;
}

function sliceRow(es: EndpointSlice, now: number): TableRowData {
  const ports = (es.ports ?? []).map((p) => (p.port !== undefined && p.port !== null ? String(p.port) : p.name ? p.name : '*'));
  const addrs = (es.endpoints ?? []).flatMap((e) => e.addresses ?? []);
  return { cells: [es.metadata.name ?? '', es.addressType ?? '', listWithMore(ports, 3, '<unset>'), listWithMore(addrs, 3, '<unset>'), age(es, now)] };
}

// ---- Ingress ----

function ingressHosts(ing: Ingress): string {
  const rules = ing.spec?.rules ?? [];
  const list: string[] = [];
  let more = false;
  for (const r of rules) {
    if (list.length === 3) more = true;
    if (!more && r.host) list.push(r.host);
  }
  if (list.length === 0) return '*';
  return more ? `${list.join(',')} + ${rules.length - 3} more...` : list.join(',');
}

// ---- Event ----

function eventRow(ev: Event, now: number): TableRowData {
  const first = ev.firstTimestamp ? ageSince(ev.firstTimestamp, now) : ageSince(ev.eventTime, now);
  let last = ev.lastTimestamp ? ageSince(ev.lastTimestamp, now) : first;
  let count = ev.count ?? 0;
  if (ev.series) {
    last = ageSince(ev.series.lastObservedTime, now);
    count = ev.series.count ?? 0;
  } else if (count === 0) count = 1;
  const io = ev.involvedObject ?? {};
  const target = io.name ? `${(io.kind ?? '').toLowerCase()}/${io.name}` : (io.kind ?? '').toLowerCase();
  const component = ev.source?.component || ev.reportingComponent || '';
  const host = ev.source?.host || ev.reportingInstance || '';
  return {
    cells: [last, ev.type ?? '', ev.reason ?? '', target, io.fieldPath ?? '', host ? `${component}, ${host}` : component, (ev.message ?? '').trim(), first, count, ev.metadata.name ?? ''],
  };
}

// ---- Job, CronJob ----

function jobRow(job: Job, now: number): TableRowData {
  const st = job.status ?? {};
  const succeeded = st.succeeded ?? 0;
  let completions: string;
  if (job.spec?.completions !== undefined) completions = `${succeeded}/${job.spec.completions}`;
  else {
    const parallelism = job.spec?.parallelism ?? 0;
    completions = parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
  }
  let duration = '';
  if (st.startTime) {
    const end = st.completionTime ? Date.parse(st.completionTime) : now;
    duration = humanDuration(end - Date.parse(st.startTime));
  }
  const has = (type: string) => (st.conditions ?? []).some((c) => c.type === type && c.status === 'True');
  let status = 'Running';
  if (has('Complete')) status = 'Complete';
  else if (has('Failed')) status = 'Failed';
  else if (job.metadata.deletionTimestamp) status = 'Terminating';
  else if (has('Suspended')) status = 'Suspended';
  else if (has('FailureTarget')) status = 'FailureTarget';
  else if (has('SuccessCriteriaMet')) status = 'SuccessCriteriaMet';
  const [names, images] = layoutContainers(job.spec?.template?.spec?.containers);
  return { cells: [job.metadata.name ?? '', status, completions, duration, age(job, now), names, images, formatLabelSelector(job.spec?.selector)] };
}

function cronJobRow(cj: CronJob, now: number): TableRowData {
  const spec = cj.spec ?? ({} as CronJob['spec']);
  const last = cj.status?.lastScheduleTime ? ageSince(cj.status.lastScheduleTime, now) : '<none>';
  const [names, images] = layoutContainers(spec.jobTemplate?.spec?.template?.spec?.containers);
  return {
    cells: [
      cj.metadata.name ?? '',
      spec.schedule ?? '',
      spec.timeZone ?? '<none>',
      spec.suspend ? 'True' : 'False',
      (cj.status?.active ?? []).length,
      last,
      age(cj, now),
      names,
      images,
      formatLabelSelector(spec.jobTemplate?.spec?.selector),
    ],
  };
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export const printers: Record<string, Printer> = {
  Pod: {
    columns: [
      nameCol(),
      col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'string', 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      ageCol(),
      col('IP', 'string', d('V1PodStatus', 'podIP'), 1),
      col('Node', 'string', d('V1PodSpec', 'nodeName'), 1),
      col('Nominated Node', 'string', d('V1PodStatus', 'nominatedNodeName'), 1),
      col('Readiness Gates', 'string', d('V1PodSpec', 'readinessGates'), 1),
    ],
    row: (o, now) => podRow(o as Pod, now),
  },
  Service: {
    columns: [
      nameCol(),
      col('Type', 'string', d('V1ServiceSpec', 'type')),
      col('Cluster-IP', 'string', d('V1ServiceSpec', 'clusterIP')),
      col('External-IP', 'string', d('V1ServiceSpec', 'externalIPs')),
      col('Port(s)', 'string', d('V1ServiceSpec', 'ports')),
      ageCol(),
      col('Selector', 'string', d('V1ServiceSpec', 'selector'), 1),
    ],
    row: (o, now) => {
      const svc = o as Service;
      return { cells: [svc.metadata.name ?? '', svc.spec?.type ?? '', svc.spec?.clusterIPs?.[0] ?? '<none>', serviceExternalIP(svc), servicePorts(svc), age(svc, now), formatLabels(svc.spec?.selector)] };
    },
  },
  Endpoints: {
    columns: [nameCol(), col('Endpoints', 'string', d('V1Endpoints', 'subsets')), ageCol()],
    row: (o, now) => ({ cells: [o.metadata.name ?? '', endpointsCell(o as Endpoints), age(o, now)] }),
  },
  EndpointSlice: {
    columns: [
      nameCol(),
      col('AddressType', 'string', d('V1EndpointSlice', 'addressType')),
      col('Ports', 'string', d('V1EndpointSlice', 'ports')),
      col('Endpoints', 'string', d('V1EndpointSlice', 'endpoints')),
      ageCol(),
    ],
    row: (o, now) => sliceRow(o as EndpointSlice, now),
  },
  Node: {
    columns: [
      nameCol(),
      col('Status', 'string', 'The status of the node'),
      col('Roles', 'string', 'The roles of the node'),
      ageCol(),
      col('Version', 'string', d('V1NodeSystemInfo', 'kubeletVersion')),
      col('Internal-IP', 'string', d('V1NodeStatus', 'addresses'), 1),
      col('External-IP', 'string', d('V1NodeStatus', 'addresses'), 1),
      col('OS-Image', 'string', d('V1NodeSystemInfo', 'osImage'), 1),
      col('Kernel-Version', 'string', d('V1NodeSystemInfo', 'kernelVersion'), 1),
      col('Container-Runtime', 'string', d('V1NodeSystemInfo', 'containerRuntimeVersion'), 1),
    ],
    row: (o, now) => nodeRow(o as Node, now),
  },
  Namespace: {
    columns: [nameCol(), col('Status', 'string', 'The status of the namespace'), ageCol()],
    row: (o, now) => ({ cells: [o.metadata.name ?? '', (o as Namespace).status?.phase ?? '', age(o, now)] }),
  },
  Secret: {
    columns: [nameCol(), col('Type', 'string', d('V1Secret', 'type')), col('Data', 'string', d('V1Secret', 'data')), ageCol()],
    row: (o, now) => ({ cells: [o.metadata.name ?? '', String(o.type ?? ''), Object.keys(isObject(o.data) ? o.data : {}).length, age(o, now)] }),
  },
  ConfigMap: {
    columns: [nameCol(), col('Data', 'string', d('V1ConfigMap', 'data')), ageCol()],
    row: (o, now) => ({
      cells: [o.metadata.name ?? '', Object.keys(isObject(o.data) ? o.data : {}).length + Object.keys(isObject(o.binaryData) ? o.binaryData : {}).length, age(o, now)],
    }),
  },
  ServiceAccount: {
    columns: [nameCol(), col('Secrets', 'string', d('V1ServiceAccount', 'secrets')), ageCol()],
    row: (o, now) => ({ cells: [o.metadata.name ?? '', Array.isArray(o.secrets) ? o.secrets.length : 0, age(o, now)] }),
  },
  Event: {
    columns: [
      col('Last Seen', 'string', d('CoreV1Event', 'lastTimestamp')),
      col('Type', 'string', d('CoreV1Event', 'type')),
      col('Reason', 'string', d('CoreV1Event', 'reason')),
      col('Object', 'string', d('CoreV1Event', 'involvedObject')),
      col('Subobject', 'string', d('V1ObjectReference', 'fieldPath'), 1),
      col('Source', 'string', d('CoreV1Event', 'source'), 1),
      col('Message', 'string', d('CoreV1Event', 'message')),
      col('First Seen', 'string', d('CoreV1Event', 'firstTimestamp'), 1),
      col('Count', 'string', d('CoreV1Event', 'count'), 1),
      col('Name', 'string', d('V1ObjectMeta', 'name'), 1, 'name'),
    ],
    row: (o, now) => eventRow(o as Event, now),
  },
  Deployment: {
    columns: [
      nameCol(),
      col('Ready', 'string', 'Number of the pod with ready state'),
      col('Up-to-date', 'string', d('V1DeploymentStatus', 'updatedReplicas')),
      col('Available', 'string', d('V1DeploymentStatus', 'availableReplicas')),
      ageCol(),
      col('Containers', 'string', 'Names of each container in the template.', 1),
      col('Images', 'string', 'Images referenced by each container in the template.', 1),
      col('Selector', 'string', d('V1DeploymentSpec', 'selector'), 1),
    ],
    row: (o, now) => {
      const dep = o as Deployment;
      const st = dep.status ?? {};
      const [names, images] = layoutContainers(dep.spec?.template?.spec?.containers);
      let sel: string;
      try {
        sel = selectorString(fromLabelSelector(dep.spec?.selector));
      } catch {
        sel = '<invalid>';
      }
      return { cells: [dep.metadata.name ?? '', `${num(st.readyReplicas)}/${dep.spec?.replicas ?? 0}`, num(st.updatedReplicas), num(st.availableReplicas), age(dep, now), names, images, sel] };
    },
  },
  ReplicaSet: {
    columns: [
      nameCol(),
      col('Desired', 'integer', d('V1ReplicaSetSpec', 'replicas')),
      col('Current', 'integer', d('V1ReplicaSetStatus', 'replicas')),
      col('Ready', 'integer', d('V1ReplicaSetStatus', 'readyReplicas')),
      ageCol(),
      col('Containers', 'string', 'Names of each container in the template.', 1),
      col('Images', 'string', 'Images referenced by each container in the template.', 1),
      col('Selector', 'string', d('V1ReplicaSetSpec', 'selector'), 1),
    ],
    row: (o, now) => {
      const rs = o as ReplicaSet;
      const [names, images] = layoutContainers(rs.spec?.template?.spec?.containers);
      return { cells: [rs.metadata.name ?? '', rs.spec?.replicas ?? 0, num(rs.status?.replicas), num(rs.status?.readyReplicas), age(rs, now), names, images, formatLabelSelector(rs.spec?.selector)] };
    },
  },
  ControllerRevision: {
    columns: [nameCol(), col('Controller', 'string', 'Controller of the object'), col('Revision', 'string', d('V1ControllerRevision', 'revision')), ageCol()],
    row: (o, now) => {
      const cr = o as ControllerRevision;
      const ref = (cr.metadata.ownerReferences ?? []).find((r) => r.controller);
      // formatResourceName(GroupKind, name, withKind): kind.group lower-cased, then the name
      const group = ref?.apiVersion.includes('/') ? ref.apiVersion.slice(0, ref.apiVersion.lastIndexOf('/')) : '';
      const controller = ref ? `${(group ? `${ref.kind}.${group}` : ref.kind).toLowerCase()}/${ref.name}` : '<none>';
      return { cells: [cr.metadata.name ?? '', controller, cr.revision ?? 0, age(cr, now)] };
    },
  },
  DaemonSet: {
    columns: [
      nameCol(),
      col('Desired', 'integer', d('V1DaemonSetStatus', 'desiredNumberScheduled')),
      col('Current', 'integer', d('V1DaemonSetStatus', 'currentNumberScheduled')),
      col('Ready', 'integer', d('V1DaemonSetStatus', 'numberReady')),
      col('Up-to-date', 'integer', d('V1DaemonSetStatus', 'updatedNumberScheduled')),
      col('Available', 'integer', d('V1DaemonSetStatus', 'numberAvailable')),
      col('Node Selector', 'string', d('V1PodSpec', 'nodeSelector')),
      ageCol(),
      col('Containers', 'string', 'Names of each container in the template.', 1),
      col('Images', 'string', 'Images referenced by each container in the template.', 1),
      col('Selector', 'string', d('V1DaemonSetSpec', 'selector'), 1),
    ],
    row: (o, now) => {
      const ds = o as DaemonSet;
      const st = ds.status ?? {};
      const [names, images] = layoutContainers(ds.spec?.template?.spec?.containers);
      return {
        cells: [ds.metadata.name ?? '', num(st.desiredNumberScheduled), num(st.currentNumberScheduled), num(st.numberReady), num(st.updatedNumberScheduled), num(st.numberAvailable), formatLabels(ds.spec?.template?.spec?.nodeSelector), age(ds, now), names, images, formatLabelSelector(ds.spec?.selector)],
      };
    },
  },
  Job: {
    columns: [
      nameCol(),
      col('Status', 'string', 'Status of the job.'),
      col('Completions', 'string', d('V1JobStatus', 'succeeded')),
      col('Duration', 'string', 'Time required to complete the job.'),
      ageCol(),
      col('Containers', 'string', 'Names of each container in the template.', 1),
      col('Images', 'string', 'Images referenced by each container in the template.', 1),
      col('Selector', 'string', d('V1JobSpec', 'selector'), 1),
    ],
    row: (o, now) => jobRow(o as Job, now),
  },
  CronJob: {
    columns: [
      nameCol(),
      col('Schedule', 'string', d('V1CronJobSpec', 'schedule')),
      col('Timezone', 'string', d('V1CronJobSpec', 'timeZone')),
      col('Suspend', 'boolean', d('V1CronJobSpec', 'suspend')),
      col('Active', 'integer', d('V1CronJobStatus', 'active')),
      col('Last Schedule', 'string', d('V1CronJobStatus', 'lastScheduleTime')),
      ageCol(),
      col('Containers', 'string', 'Names of each container in the template.', 1),
      col('Images', 'string', 'Images referenced by each container in the template.', 1),
      col('Selector', 'string', d('V1JobSpec', 'selector'), 1),
    ],
    row: (o, now) => cronJobRow(o as CronJob, now),
  },
  Ingress: {
    columns: [
      nameCol(),
      col('Class', 'string', 'The name of the IngressClass resource that should be used for additional configuration'),
      col('Hosts', 'string', 'Hosts that incoming requests are matched against before the ingress rule'),
      col('Address', 'string', 'Address is a list containing ingress points for the load-balancer'),
      col('Ports', 'string', 'Ports of TLS configurations that open'),
      ageCol(),
    ],
    row: (o, now) => {
      const ing = o as Ingress;
      return {
        cells: [ing.metadata.name ?? '', ing.spec?.ingressClassName ?? '<none>', ingressHosts(ing), lbIngressString(ing.status?.loadBalancer?.ingress), ing.spec?.tls?.length ? '80, 443' : '80', age(ing, now)],
      };
    },
  },
  IngressClass: {
    columns: [
      nameCol(),
      col('Controller', 'string', 'Controller that is responsible for handling this class'),
      col('Parameters', 'string', 'A reference to a resource with additional parameters'),
      ageCol(),
    ],
    row: (o, now) => {
      const ic = o as IngressClass;
      const p = ic.spec?.parameters;
      const params = p ? `${p.kind}${p.apiGroup !== undefined ? `.${p.apiGroup}` : ''}/${p.name}` : '<none>';
      return { cells: [ic.metadata.name ?? '', ic.spec?.controller ?? '', params, age(ic, now)] };
    },
  },
  NetworkPolicy: {
    columns: [nameCol(), col('Pod-Selector', 'string', d('V1NetworkPolicySpec', 'podSelector')), ageCol()],
    row: (o, now) => ({ cells: [o.metadata.name ?? '', formatLabelSelector((o as NetworkPolicy).spec?.podSelector ?? {}), age(o, now)] }),
  },
  Lease: {
    columns: [nameCol(), col('Holder', 'string', d('V1LeaseSpec', 'holderIdentity')), ageCol()],
    row: (o, now) => ({ cells: [o.metadata.name ?? '', String((o.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? ''), age(o, now)] }),
  },
};

// ---- RoleBinding, ClusterRoleBinding (Role and ClusterRole print as the default Table does) ----

/** rbac.SubjectsStrings: users, groups and service accounts (NAMESPACE/NAME) of a binding. */
function subjectsStrings(b: RoleBinding): [string, string, string] {
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  for (const s of b.subjects ?? []) {
    if (s.kind === 'ServiceAccount') sas.push(`${s.namespace ?? ''}/${s.name}`);
    else if (s.kind === 'User') users.push(s.name);
    else if (s.kind === 'Group') groups.push(s.name);
  }
  return [users.join(', '), groups.join(', '), sas.join(', ')];
}

function bindingPrinter(what: 'roleBinding' | 'clusterRoleBinding', roleRefDoc: string): Printer {
  return {
    columns: [
      nameCol(),
      col('Role', 'string', roleRefDoc),
      ageCol(),
      col('Users', 'string', `Users in the ${what}`, 1),
      col('Groups', 'string', `Groups in the ${what}`, 1),
      col('ServiceAccounts', 'string', `ServiceAccounts in the ${what}`, 1),
    ],
    row: (o, now) => {
      const b = o as RoleBinding;
      return { cells: [b.metadata.name ?? '', `${b.roleRef?.kind ?? ''}/${b.roleRef?.name ?? ''}`, age(b, now), ...subjectsStrings(b)] };
    },
  };
}

// The descriptions are rbac/v1beta1's, as upstream's printers take them.
printers.RoleBinding = bindingPrinter('roleBinding', 'roleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.');
printers.ClusterRoleBinding = bindingPrinter('clusterRoleBinding', 'roleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.');

/** The API server's default Table for kinds without a printer. */
export const defaultPrinter: Printer = {
  columns: [nameCol(), col('Created At', 'date', d('V1ObjectMeta', 'creationTimestamp'))],
  row: (o) => ({ cells: [o.metadata.name ?? '', o.metadata.creationTimestamp ?? ''] }),
};

export function printerFor(kind: string): Printer {
  return printers[kind] ?? defaultPrinter;
}
