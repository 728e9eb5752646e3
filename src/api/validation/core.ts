// Validation of core/v1 kinds (kubernetes pkg/apis/core/validation), with upstream's field
// paths and messages. Objects arrive already defaulted, as they do upstream.
import { isDeepStrictEqual } from 'node:util';
import { field, GoRepr, Path, type FieldError } from '../errors.ts';
import type {
  Container,
  ContainerPort,
  IntOrString,
  KubeObject,
  Namespace,
  Node,
  Pod,
  PodSpec,
  PodTemplateSpec,
  Probe,
  Service,
} from '../types.ts';
import { isObject } from '../types.ts';
import {
  familyOf,
  isLinkLocalMulticast,
  isLinkLocalUnicast,
  isLoopback,
  isUnspecified,
  isValidIP,
  parseCIDR,
} from '../../util/ip.ts';
import {
  inclusiveRangeError,
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isHTTPHeaderName,
  isQualifiedName,
  isRelaxedEnvVarName,
  isValidPortName,
  isValidPortNum,
  nameIsDNS1035Label,
  nameIsDNSLabel,
  nameIsDNSSubdomain,
} from './names.ts';
import {
  validateAnnotations,
  validateImmutableField,
  validateLabelName,
  validateLabels,
  validateNonnegative,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from './meta.ts';

const invalidIPMsg = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
const invalidCIDRMsg = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

export function validateIP(p: Path, v: string): FieldError[] {
  return isValidIP(v) ? [] : [field.invalid(p, v, invalidIPMsg)];
}

export function validateCIDR(p: Path, v: string): FieldError[] {
  return parseCIDR(v) ? [] : [field.invalid(p, v, invalidCIDRMsg)];
}

export function validateDNS1123Label(v: string, p: Path): FieldError[] {
  return isDNS1123Label(v).map((m) => field.invalid(p, v, m));
}

export function validateDNS1123Subdomain(v: string, p: Path): FieldError[] {
  return isDNS1123Subdomain(v).map((m) => field.invalid(p, v, m));
}

export function validateQualifiedName(v: string, p: Path): FieldError[] {
  return isQualifiedName(v).map((m) => field.invalid(p, v, m));
}

/** An IntOrString as intstr.IntOrString.String() prints it. */
export function intOrStringRepr(v: IntOrString | undefined): GoRepr {
  return new GoRepr(String(v ?? 0));
}

export function validatePortNumOrName(port: IntOrString | undefined, p: Path): FieldError[] {
  if (typeof port === 'string') return isValidPortName(port).map((m) => field.invalid(p, port, m));
  const n = port ?? 0;
  return isValidPortNum(n).map((m) => field.invalid(p, n, m));
}

const supportedPortProtocols = ['SCTP', 'TCP', 'UDP'];

// ---- Service ----

function isHeadless(svc: Service): boolean {
  return svc.spec.clusterIPs?.length === 1 && svc.spec.clusterIPs[0] === 'None';
}

function externallyAccessible(svc: Service): boolean {
  return svc.spec.type === 'LoadBalancer' || svc.spec.type === 'NodePort' || (svc.spec.type === 'ClusterIP' && (svc.spec.externalIPs?.length ?? 0) > 0);
}

export function needsHealthCheck(svc: Service): boolean {
  return svc.spec.type === 'LoadBalancer' && svc.spec.externalTrafficPolicy === 'Local';
}

function validateNonSpecialIP(ip: string, p: Path): FieldError[] {
  if (isUnspecified(ip)) return [field.invalid(p, ip, 'may not be unspecified (0.0.0.0)')];
  if (isLoopback(ip)) return [field.invalid(p, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)')];
  if (isLinkLocalUnicast(ip)) return [field.invalid(p, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)')];
  if (isLinkLocalMulticast(ip)) return [field.invalid(p, ip, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)')];
  return [];
}

export { validateNonSpecialIP as validateEndpointIP };

/** ValidateServiceClusterIPsRelatedFields; also run before allocation, as upstream does. */
export function validateClusterIPsRelated(svc: Service): FieldError[] {
  if (svc.spec.type === 'ExternalName') return [];
  const errs: FieldError[] = [];
  const spec = svc.spec;
  const ipsPath = Path.root('spec', 'clusterIPs');
  const ips = spec.clusterIPs ?? [];
  if (spec.clusterIP) {
    if (ips.length === 0) errs.push(field.required(ipsPath));
    else if (ips[0] !== spec.clusterIP) errs.push(field.invalid(ipsPath, ips, 'first value must match `clusterIP`'));
  } else if (ips.length) {
    errs.push(field.invalid(ipsPath, ips, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  (spec.ipFamilies ?? []).forEach((f, i) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(field.notSupported(Path.root('spec', 'ipFamilies').index(i), f, ['IPv4', 'IPv6']));
    if (seen.has(f)) errs.push(field.duplicate(Path.root('spec', 'ipFamilies').index(i), f));
    seen.add(f);
  });
  if (spec.ipFamilyPolicy !== undefined && !['PreferDualStack', 'RequireDualStack', 'SingleStack'].includes(spec.ipFamilyPolicy)) {
    errs.push(field.notSupported(Path.root('spec', 'ipFamilyPolicy'), spec.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
  }
  let invalid = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        invalid = true;
        errs.push(field.invalid(ipsPath, ips, "'None' must be the first and only value"));
      }
      return;
    }
    const e = validateIP(ipsPath.index(i), ip);
    if (e.length) invalid = true;
    errs.push(...e);
  });
  if (ips.length > 2) errs.push(field.invalid(ipsPath, ips, 'may only hold up to 2 values'));
  if (invalid) return errs;
  if (ips.length > 1 && familyOf(ips[0]!) === familyOf(ips[1]!)) {
    errs.push(field.invalid(ipsPath, ips, 'may specify no more than one IP for each IP family'));
  }
  if (!isHeadless(svc)) {
    ips.forEach((ip, i) => {
      const fam = spec.ipFamilies?.[i];
      if (fam === 'IPv4' && familyOf(ip) === 6) errs.push(field.invalid(ipsPath.index(i), ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (fam === 'IPv6' && familyOf(ip) !== 6) errs.push(field.invalid(ipsPath.index(i), ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

/** ValidateService. */
export function validateService(svc: Service): FieldError[] {
  const errs = validateObjectMeta(svc.metadata, true, nameIsDNS1035Label);
  const spec = svc.spec ?? {};
  const specPath = Path.root('spec');
  const ports = spec.ports ?? [];
  if (ports.length === 0 && !isHeadless(svc) && spec.type !== 'ExternalName') errs.push(field.required(specPath.child('ports')));
  switch (spec.type) {
    case 'LoadBalancer':
      if (isHeadless(svc)) errs.push(field.invalid(specPath.child('clusterIPs').index(0), spec.clusterIPs![0], "may not be set to 'None' for LoadBalancer services"));
      break;
    case 'NodePort':
      if (isHeadless(svc)) errs.push(field.invalid(specPath.child('clusterIPs').index(0), spec.clusterIPs![0], "may not be set to 'None' for NodePort services"));
      break;
    case 'ExternalName': {
      if (spec.clusterIPs?.length) errs.push(field.forbidden(specPath.child('clusterIPs'), 'may not be set for ExternalName services'));
      if (spec.ipFamilies?.length) errs.push(field.forbidden(specPath.child('ipFamilies'), 'may not be set for ExternalName services'));
      if (spec.ipFamilyPolicy !== undefined) errs.push(field.forbidden(specPath.child('ipFamilyPolicy'), 'may not be set for ExternalName services'));
      const cname = (spec.externalName ?? '').replace(/\.$/, '');
      if (cname) errs.push(...validateDNS1123Subdomain(cname, specPath.child('externalName')));
      else errs.push(field.required(specPath.child('externalName')));
      break;
    }
  }
  const names = new Set<string>();
  ports.forEach((sp, i) => {
    const pp = specPath.child('ports').index(i);
    if (ports.length > 1 && !sp.name) errs.push(field.required(pp.child('name')));
    else if (sp.name) {
      errs.push(...validateDNS1123Label(sp.name, pp.child('name')));
      if (names.has(sp.name)) errs.push(field.duplicate(pp.child('name'), sp.name));
      else names.add(sp.name);
    }
    for (const m of isValidPortNum(sp.port ?? 0)) errs.push(field.invalid(pp.child('port'), sp.port ?? 0, m));
    if (!sp.protocol) errs.push(field.required(pp.child('protocol')));
    else if (!supportedPortProtocols.includes(sp.protocol)) errs.push(field.notSupported(pp.child('protocol'), sp.protocol, supportedPortProtocols));
    errs.push(...validatePortNumOrName(sp.targetPort, pp.child('targetPort')));
    if (sp.appProtocol !== undefined) errs.push(...validateQualifiedName(sp.appProtocol, pp.child('appProtocol')));
  });
  if (spec.selector) errs.push(...validateLabels(spec.selector, specPath.child('selector')));
  if (!spec.sessionAffinity) errs.push(field.required(specPath.child('sessionAffinity')));
  else if (!['ClientIP', 'None'].includes(spec.sessionAffinity)) errs.push(field.notSupported(specPath.child('sessionAffinity'), spec.sessionAffinity, ['ClientIP', 'None']));
  if (spec.sessionAffinity === 'ClientIP') {
    const cp = specPath.child('sessionAffinityConfig');
    const cfg = spec.sessionAffinityConfig;
    if (!cfg) errs.push(field.required(cp, 'when session affinity type is ClientIP'));
    else if (!cfg.clientIP) errs.push(field.required(cp.child('clientIP'), 'when session affinity type is ClientIP'));
    else if (cfg.clientIP.timeoutSeconds === undefined) errs.push(field.required(cp.child('clientIP').child('timeoutSeconds'), 'when session affinity type is ClientIP'));
    else if (cfg.clientIP.timeoutSeconds <= 0 || cfg.clientIP.timeoutSeconds > 86400) {
      errs.push(field.invalid(cp.child('clientIP').child('timeoutSeconds'), cfg.clientIP.timeoutSeconds, 'must be greater than 0 and less than 86400'));
    }
  } else if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig !== undefined) {
    errs.push(field.forbidden(specPath.child('sessionAffinityConfig'), 'must not be set when session affinity is None'));
  }
  errs.push(...validateClusterIPsRelated(svc));
  (spec.externalIPs ?? []).forEach((ip, i) => {
    const e = validateIP(specPath.child('externalIPs').index(i), ip);
    errs.push(...(e.length ? e : validateNonSpecialIP(ip, specPath.child('externalIPs').index(i))));
  });
  const types = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
  if (!spec.type) errs.push(field.required(specPath.child('type')));
  else if (!types.includes(spec.type)) errs.push(field.notSupported(specPath.child('type'), spec.type, types));
  if (spec.type === 'ClusterIP') {
    ports.forEach((sp, i) => {
      if (sp.nodePort) errs.push(field.forbidden(specPath.child('ports').index(i).child('nodePort'), "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((sp, i) => {
    if (!sp.nodePort) return;
    const key = `${sp.protocol}/${sp.nodePort}`;
    if (nodePorts.has(key)) errs.push(field.duplicate(specPath.child('ports').index(i).child('nodePort'), sp.nodePort));
    nodePorts.add(key);
  });
  const seenPorts = new Set<string>();
  ports.forEach((sp, i) => {
    const key = `${sp.protocol}/${sp.port}`;
    if (seenPorts.has(key)) {
      errs.push(field.duplicate(specPath.child('ports').index(i), new GoRepr(`core.ServicePort{Name:"", Protocol:${JSON.stringify(sp.protocol ?? '')}, AppProtocol:(*string)(nil), Port:${sp.port}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`)));
    }
    seenPorts.add(key);
  });
  if (spec.loadBalancerSourceRanges?.length) {
    const fp = specPath.child('LoadBalancerSourceRanges');
    if (spec.type !== 'LoadBalancer') errs.push(field.forbidden(fp, "may only be used when `type` is 'LoadBalancer'"));
    spec.loadBalancerSourceRanges.forEach((v, i) => errs.push(...validateCIDR(fp.index(i), v.trim())));
  }
  if (spec.allocateLoadBalancerNodePorts !== undefined && spec.type !== 'LoadBalancer') {
    errs.push(field.forbidden(specPath.child('allocateLoadBalancerNodePorts'), "may only be used when `type` is 'LoadBalancer'"));
  }
  if (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === undefined) {
    errs.push(field.required(Path.root('allocateLoadBalancerNodePorts')));
  }
  if (spec.loadBalancerClass !== undefined) {
    if (spec.type !== 'LoadBalancer') errs.push(field.forbidden(specPath.child('loadBalancerClass'), 'may only be used when service type is \'LoadBalancer\''));
    else errs.push(...validateQualifiedName(spec.loadBalancerClass, specPath.child('loadBalancerClass')));
  }
  // external traffic policy
  if (!externallyAccessible(svc)) {
    if (spec.externalTrafficPolicy) errs.push(field.invalid(specPath.child('externalTrafficPolicy'), spec.externalTrafficPolicy, 'may only be set for externally-accessible services'));
  } else if (!spec.externalTrafficPolicy) {
    errs.push(field.required(specPath.child('externalTrafficPolicy')));
  } else if (!['Cluster', 'Local'].includes(spec.externalTrafficPolicy)) {
    errs.push(field.notSupported(specPath.child('externalTrafficPolicy'), spec.externalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (!needsHealthCheck(svc)) {
    if (spec.healthCheckNodePort) {
      errs.push(field.invalid(specPath.child('healthCheckNodePort'), spec.healthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
    }
  } else if (!spec.healthCheckNodePort) {
    errs.push(field.required(specPath.child('healthCheckNodePort')));
  } else {
    for (const m of isValidPortNum(spec.healthCheckNodePort)) errs.push(field.invalid(specPath.child('healthCheckNodePort'), spec.healthCheckNodePort, m));
  }
  if (spec.internalTrafficPolicy === undefined) {
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer' || spec.type === 'ClusterIP') errs.push(field.required(specPath.child('internalTrafficPolicy')));
  } else if (!['Cluster', 'Local'].includes(spec.internalTrafficPolicy)) {
    errs.push(field.notSupported(specPath.child('internalTrafficPolicy'), spec.internalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (spec.trafficDistribution !== undefined && !['PreferClose', 'PreferSameZone', 'PreferSameNode'].includes(spec.trafficDistribution)) {
    errs.push(field.notSupported(specPath.child('trafficDistribution'), spec.trafficDistribution, ['PreferClose', 'PreferSameZone', 'PreferSameNode']));
  }
  return errs;
}

export function validateServiceUpdate(svc: Service, old: Service): FieldError[] {
  const errs = validateObjectMetaUpdate(svc.metadata, old.metadata);
  const ext = svc.spec.type === 'ExternalName' || old.spec.type === 'ExternalName';
  if (!ext && !(isHeadless(svc) && isHeadless(old))) {
    const n = svc.spec.clusterIPs ?? [];
    const o = old.spec.clusterIPs ?? [];
    if (n.length === o.length) {
      o.forEach((ip, i) => {
        if (ip !== n[i]) errs.push(field.invalid(Path.root('spec', 'clusterIPs').index(i), n, 'may not change once set'));
      });
    } else if (o.length > n.length) {
      if (n.length === 0) errs.push(field.invalid(Path.root('spec', 'clusterIPs').index(0), n, 'primary clusterIP can not be unset'));
      else if (n[0] !== o[0]) errs.push(field.invalid(Path.root('spec', 'clusterIPs').index(0), n, 'may not change once set'));
    } else if (o.length > 0 && n[0] !== o[0]) {
      errs.push(field.invalid(Path.root('spec', 'clusterIPs').index(0), n, 'may not change once set'));
    }
  }
  if (needsHealthCheck(old) && needsHealthCheck(svc) && svc.spec.healthCheckNodePort !== old.spec.healthCheckNodePort) {
    errs.push(field.forbidden(Path.root('spec', 'healthCheckNodePort'), 'field is immutable'));
  }
  return [...errs, ...validateService(svc)];
}

export function validateServiceStatusUpdate(svc: Service, old: Service): FieldError[] {
  const errs = validateObjectMetaUpdate(svc.metadata, old.metadata);
  (svc.status?.loadBalancer?.ingress ?? []).forEach((ing, i) => {
    const p = Path.root('status', 'loadBalancer').child('ingress').index(i);
    if (ing.ip) errs.push(...validateIP(p.child('ip'), ing.ip));
    if (ing.hostname) {
      errs.push(...validateDNS1123Subdomain(ing.hostname, p.child('hostname')));
      if (isValidIP(ing.hostname)) errs.push(field.invalid(p.child('hostname'), ing.hostname, 'must be a DNS name, not an IP address'));
    }
    if (ing.ipMode !== undefined) {
      if (!ing.ip) errs.push(field.forbidden(p.child('ipMode'), 'may not be specified when `ip` is not'));
      else if (!['Proxy', 'VIP'].includes(ing.ipMode)) errs.push(field.notSupported(p.child('ipMode'), ing.ipMode, ['Proxy', 'VIP']));
    }
  });
  return errs;
}

// ---- Pods ----

function validateProbe(probe: Probe | undefined, p: Path, kind: 'liveness' | 'readiness' | 'startup'): FieldError[] {
  if (!probe) return [];
  const errs: FieldError[] = [];
  const handlers: [string, unknown][] = [
    ['exec', probe.exec],
    ['httpGet', probe.httpGet],
    ['tcpSocket', probe.tcpSocket],
    ['grpc', probe.grpc],
  ];
  let n = 0;
  for (const [name, h] of handlers) {
    if (h === undefined) continue;
    if (n > 0) {
      errs.push(field.forbidden(p.child(name), 'may not specify more than 1 handler type'));
      continue;
    }
    n++;
    const hp = p.child(name);
    if (name === 'exec' && !probe.exec?.command?.length) errs.push(field.required(hp.child('command')));
    if (name === 'httpGet' && probe.httpGet) {
      if (!probe.httpGet.path) errs.push(field.required(hp.child('path')));
      errs.push(...validatePortNumOrName(probe.httpGet.port, hp.child('port')));
      const scheme = probe.httpGet.scheme ?? '';
      if (!['HTTP', 'HTTPS'].includes(scheme)) errs.push(field.notSupported(hp.child('scheme'), scheme, ['HTTP', 'HTTPS']));
      for (const h of probe.httpGet.httpHeaders ?? []) for (const m of isHTTPHeaderName(h.name)) errs.push(field.invalid(hp.child('httpHeaders'), h.name, m));
    }
    if (name === 'tcpSocket' && probe.tcpSocket) errs.push(...validatePortNumOrName(probe.tcpSocket.port, hp.child('port')));
    if (name === 'grpc' && probe.grpc) errs.push(...validatePortNumOrName(probe.grpc.port, hp.child('port')));
  }
  if (n === 0) errs.push(field.required(p, 'must specify a handler type'));
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    errs.push(...validateNonnegative(probe[f], p.child(f)));
  }
  if (probe.terminationGracePeriodSeconds !== undefined && probe.terminationGracePeriodSeconds <= 0) {
    errs.push(field.invalid(p.child('terminationGracePeriodSeconds'), probe.terminationGracePeriodSeconds, 'must be greater than 0'));
  }
  if (kind !== 'readiness' && (probe.successThreshold ?? 1) !== 1) errs.push(field.invalid(p.child('successThreshold'), probe.successThreshold, 'must be 1'));
  if (kind === 'readiness' && probe.terminationGracePeriodSeconds !== undefined) {
    errs.push(field.invalid(p.child('terminationGracePeriodSeconds'), probe.terminationGracePeriodSeconds, 'must not be set for readinessProbes'));
  }
  return errs;
}

function validateContainerPorts(ports: ContainerPort[] | undefined, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (ports ?? []).forEach((port, i) => {
    const ip = p.index(i);
    if (port.name) {
      const msgs = isValidPortName(port.name);
      if (msgs.length) for (const m of msgs) errs.push(field.invalid(ip.child('name'), port.name, m));
      else if (names.has(port.name)) errs.push(field.duplicate(ip.child('name'), port.name));
      else names.add(port.name);
    }
    if (!port.containerPort) errs.push(field.required(ip.child('containerPort')));
    else for (const m of isValidPortNum(port.containerPort)) errs.push(field.invalid(ip.child('containerPort'), port.containerPort, m));
    if (port.hostPort) for (const m of isValidPortNum(port.hostPort)) errs.push(field.invalid(ip.child('hostPort'), port.hostPort, m));
    if (!port.protocol) errs.push(field.required(ip.child('protocol')));
    else if (!supportedPortProtocols.includes(port.protocol)) errs.push(field.notSupported(ip.child('protocol'), port.protocol, supportedPortProtocols));
  });
  return errs;
}

function validateEnv(env: Container['env'], p: Path): FieldError[] {
  const errs: FieldError[] = [];
  (env ?? []).forEach((ev, i) => {
    const ip = p.index(i);
    if (!ev.name) errs.push(field.required(ip.child('name')));
    else for (const m of isRelaxedEnvVarName(ev.name)) errs.push(field.invalid(ip.child('name'), ev.name, m));
    if (ev.valueFrom !== undefined && ev.value) {
      errs.push(field.invalid(ip.child('valueFrom'), '', 'may not be specified when `value` is not empty'));
    }
  });
  return errs;
}

function validateContainer(ctr: Container, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  if (!ctr.name) errs.push(field.required(p.child('name')));
  else errs.push(...validateDNS1123Label(ctr.name, p.child('name')));
  if (!ctr.image) errs.push(field.required(p.child('image')));
  const tmp = ctr.terminationMessagePolicy ?? '';
  if (tmp === '') errs.push(field.required(p.child('terminationMessagePolicy')));
  else if (!['File', 'FallbackToLogsOnError'].includes(tmp)) errs.push(field.notSupported(p.child('terminationMessagePolicy'), tmp, ['File', 'FallbackToLogsOnError']));
  errs.push(...validateContainerPorts(ctr.ports, p.child('ports')));
  errs.push(...validateEnv(ctr.env, p.child('env')));
  const pull = ctr.imagePullPolicy ?? '';
  if (pull === '') errs.push(field.required(p.child('imagePullPolicy')));
  else if (!['Always', 'IfNotPresent', 'Never'].includes(pull)) errs.push(field.notSupported(p.child('imagePullPolicy'), pull, ['Always', 'IfNotPresent', 'Never']));
  return errs;
}

function validateContainers(list: Container[] | undefined, p: Path): FieldError[] {
  const ctrs = list ?? [];
  if (ctrs.length === 0) return [field.required(p)];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  ctrs.forEach((ctr, i) => {
    const cp = p.index(i);
    errs.push(...validateContainer(ctr, cp));
    if (names.has(ctr.name)) errs.push(field.duplicate(cp.child('name'), ctr.name));
    else names.add(ctr.name);
    errs.push(...validateProbe(ctr.livenessProbe, cp.child('livenessProbe'), 'liveness'));
    errs.push(...validateProbe(ctr.readinessProbe, cp.child('readinessProbe'), 'readiness'));
    errs.push(...validateProbe(ctr.startupProbe, cp.child('startupProbe'), 'startup'));
    if (ctr.restartPolicy !== undefined) errs.push(field.forbidden(cp.child('restartPolicy'), 'may not be set for non-init containers'));
  });
  const hostPorts = new Set<string>();
  ctrs.forEach((ctr, ci) => {
    (ctr.ports ?? []).forEach((port, pi) => {
      if (!port.hostPort) return;
      const key = `${port.protocol}/${port.hostIP ?? ''}/${port.hostPort}`;
      if (hostPorts.has(key)) errs.push(field.duplicate(p.index(ci).child('ports').index(pi).child('hostPort'), key));
      hostPorts.add(key);
    });
  });
  return errs;
}

function validateInitContainers(list: Container[] | undefined, regular: Container[] | undefined, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set((regular ?? []).map((c) => c.name));
  (list ?? []).forEach((ctr, i) => {
    const cp = p.index(i);
    errs.push(...validateContainer(ctr, cp));
    const always = ctr.restartPolicy === 'Always';
    if (ctr.restartPolicy !== undefined && !always) errs.push(field.notSupported(cp.child('restartPolicy'), ctr.restartPolicy, ['Always']));
    if (names.has(ctr.name)) errs.push(field.duplicate(cp.child('name'), ctr.name));
    else if (ctr.name) names.add(ctr.name);
    if (always) {
      errs.push(...validateProbe(ctr.livenessProbe, cp.child('livenessProbe'), 'liveness'));
      errs.push(...validateProbe(ctr.readinessProbe, cp.child('readinessProbe'), 'readiness'));
      errs.push(...validateProbe(ctr.startupProbe, cp.child('startupProbe'), 'startup'));
    } else {
      for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
        if (ctr[f] !== undefined) errs.push(field.forbidden(cp.child(f), 'may not be set for init containers without restartPolicy=Always'));
      }
    }
  });
  return errs;
}

/** The fields of an ephemeral container that are not on upstream's allow list, in its struct's order: a debugging container serves nothing and reserves nothing. */
const ephemeralForbidden = ['ports', 'resources', 'resizePolicy', 'restartPolicy', 'restartPolicyRules', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle'] as const;

/** validateEphemeralContainers: each a valid container, its name unique among all the pod's containers, its target one of the pod's (non-ephemeral) containers. */
export function validateEphemeralContainers(spec: PodSpec, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  const others = new Set([...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => c.name));
  const all = new Set(others);
  (spec.ephemeralContainers ?? []).forEach((ec, i) => {
    const cp = p.index(i);
    errs.push(...validateContainer(ec, cp));
    if (all.has(ec.name)) errs.push(field.duplicate(cp.child('name'), ec.name));
    else all.add(ec.name);
    if (ec.targetContainerName && !others.has(ec.targetContainerName)) errs.push(field.notFound(cp.child('targetContainerName'), ec.targetContainerName));
    for (const f of ephemeralForbidden) {
      const v = (ec as Record<string, unknown>)[f];
      // An empty resources (as defaulting leaves it) is the zero value: not set.
      const set = v !== undefined && v !== null && !(isObject(v) && Object.keys(v).length === 0) && !(Array.isArray(v) && v.length === 0);
      if (set) errs.push(field.forbidden(cp.child(f), 'cannot be set for an Ephemeral Container'));
    }
    ((ec.volumeMounts ?? []) as { subPath?: string; subPathExpr?: string }[]).forEach((vm, j) => {
      for (const f of ['subPath', 'subPathExpr'] as const) if (vm[f]) errs.push(field.forbidden(cp.child('volumeMounts').index(j).child(f), 'cannot be set for an Ephemeral Container'));
    });
  });
  return errs;
}

/**
 * ValidatePodEphemeralContainersUpdate: the new pod valid, and every ephemeral container the
 * old one had still there, unchanged (they are never removed or edited, only added).
 */
export function validatePodEphemeralContainersUpdate(pod: Pod, old: Pod): FieldError[] {
  const errs = validateObjectMetaUpdate(pod.metadata, old.metadata);
  errs.push(...validatePodSpec(pod.spec, Path.root('spec')));
  const p = Path.root('spec', 'ephemeralContainers');
  const now = new Map((pod.spec.ephemeralContainers ?? []).map((c) => [c.name, c]));
  for (const o of old.spec.ephemeralContainers ?? []) {
    const n = now.get(o.name);
    if (!n) errs.push(field.forbidden(p, `existing ephemeral containers ${JSON.stringify(o.name)} may not be removed\n`));
    else if (!isDeepStrictEqual(JSON.parse(JSON.stringify(n)), JSON.parse(JSON.stringify(o)))) errs.push(field.forbidden(p, `existing ephemeral containers ${JSON.stringify(o.name)} may not be changed\n`));
  }
  return errs;
}

/** ValidatePodSpec (the parts podpath's pods use). */
export function validatePodSpec(spec: PodSpec, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.terminationGracePeriodSeconds === undefined) errs.push(field.required(p.child('terminationGracePeriodSeconds')));
  errs.push(...validateContainers(spec.containers, p.child('containers')));
  errs.push(...validateInitContainers(spec.initContainers, spec.containers, p.child('initContainers')));
  errs.push(...validateEphemeralContainers(spec, p.child('ephemeralContainers')));
  if (spec.hostNetwork) {
    (spec.containers ?? []).forEach((c, i) =>
      (c.ports ?? []).forEach((port, j) => {
        if (port.hostPort && port.hostPort !== port.containerPort) {
          errs.push(field.invalid(p.child('containers').index(i).child('ports').index(j).child('hostPort'), port.hostPort, 'must match `containerPort` when `hostNetwork` is true'));
        }
      }),
    );
  }
  const rp = spec.restartPolicy ?? '';
  if (rp === '') errs.push(field.required(p.child('restartPolicy')));
  else if (!['Always', 'OnFailure', 'Never'].includes(rp)) errs.push(field.notSupported(p.child('restartPolicy'), rp, ['Always', 'OnFailure', 'Never']));
  const dp = spec.dnsPolicy ?? '';
  if (dp === '') errs.push(field.required(p.child('dnsPolicy')));
  else if (!['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'].includes(dp)) {
    errs.push(field.notSupported(p.child('dnsPolicy'), dp, ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']));
  }
  errs.push(...validateLabels(spec.nodeSelector, p.child('nodeSelector')));
  // dnsConfig
  const dcp = p.child('dnsConfig');
  if (dp === 'None') {
    if (!spec.dnsConfig) errs.push(field.required(dcp, 'must provide `dnsConfig` when `dnsPolicy` is None'));
    else if (!spec.dnsConfig.nameservers?.length) errs.push(field.required(dcp.child('nameservers'), 'must provide at least one DNS nameserver when `dnsPolicy` is None'));
  }
  if (spec.dnsConfig) {
    const ns = spec.dnsConfig.nameservers ?? [];
    if (ns.length > 3) errs.push(field.invalid(dcp.child('nameservers'), ns, 'must not have more than 3 nameservers'));
    ns.forEach((n, i) => errs.push(...validateIP(dcp.child('nameservers').index(i), n)));
    const searches = spec.dnsConfig.searches ?? [];
    if (searches.length > 32) errs.push(field.invalid(dcp.child('searches'), searches, 'must not have more than 32 search paths'));
    if (searches.join(' ').length > 2048) errs.push(field.invalid(dcp.child('searches'), searches, 'must not have more than 2048 characters (including spaces) in the search list'));
    searches.forEach((s, i) => {
      if (s !== '.') errs.push(...validateDNS1123Subdomain(s.replace(/\.$/, ''), dcp.child('searches').index(i)));
    });
    (spec.dnsConfig.options ?? []).forEach((o, i) => {
      if (!o.name) errs.push(field.required(dcp.child('options').index(i), 'must not be empty'));
    });
  }
  (spec.readinessGates ?? []).forEach((g, i) => errs.push(...validateQualifiedName(g.conditionType, p.child('readinessGates').index(i).child('conditionType'))));
  if (spec.serviceAccountName) {
    for (const m of nameIsDNSSubdomain(spec.serviceAccountName, false)) errs.push(field.invalid(p.child('serviceAccountName'), spec.serviceAccountName, m));
  }
  if (spec.nodeName) for (const m of nameIsDNSSubdomain(spec.nodeName, false)) errs.push(field.invalid(p.child('nodeName'), spec.nodeName, m));
  if (spec.activeDeadlineSeconds !== undefined && (spec.activeDeadlineSeconds < 1 || spec.activeDeadlineSeconds > 2147483647)) {
    errs.push(field.invalid(p.child('activeDeadlineSeconds'), spec.activeDeadlineSeconds, inclusiveRangeError(1, 2147483647)));
  }
  if (spec.hostname) errs.push(...validateDNS1123Label(spec.hostname, p.child('hostname')));
  if (spec.subdomain) errs.push(...validateDNS1123Label(spec.subdomain, p.child('subdomain')));
  (spec.hostAliases ?? []).forEach((ha, i) => {
    errs.push(...validateIP(p.child('hostAliases').index(i).child('ip'), ha.ip));
    (ha.hostnames ?? []).forEach((h, j) => errs.push(...validateDNS1123Subdomain(h, p.child('hostAliases').index(i).child('hostnames').index(j))));
  });
  if (spec.preemptionPolicy !== undefined && !['PreemptLowerPriority', 'Never'].includes(spec.preemptionPolicy)) {
    errs.push(field.notSupported(p.child('preemptionPolicy'), spec.preemptionPolicy, ['PreemptLowerPriority', 'Never']));
  }
  return errs;
}

export function validatePodTemplateSpec(t: PodTemplateSpec, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...validateLabels(t.metadata?.labels, p.child('labels')));
  errs.push(...validateAnnotations(t.metadata?.annotations, p.child('annotations')));
  errs.push(...validatePodSpec(t.spec ?? ({ containers: [] } as PodSpec), p.child('spec')));
  return errs;
}

export function validatePod(pod: Pod): FieldError[] {
  const errs = validateObjectMeta(pod.metadata, true, nameIsDNSSubdomain);
  errs.push(...validatePodSpec(pod.spec ?? ({ containers: [] } as PodSpec), Path.root('spec')));
  if (pod.spec?.ephemeralContainers?.length) errs.push(field.forbidden(Path.root('spec', 'ephemeralContainers'), 'cannot be set on create'));
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  containers.forEach((c) => {
    if (c.image && c.image.trim() !== c.image) {
      const list = (pod.spec.containers ?? []).includes(c) ? 'containers' : 'initContainers';
      const idx = (pod.spec[list] as Container[]).indexOf(c);
      errs.push(field.invalid(Path.root('spec', list).index(idx).child('image'), c.image, 'must not have leading or trailing whitespace'));
    }
  });
  return errs;
}

/** Pod updates may change only images, activeDeadlineSeconds, tolerations additions and a few labels-like fields. */
export function validatePodUpdate(pod: Pod, old: Pod): FieldError[] {
  const errs = validateObjectMetaUpdate(pod.metadata, old.metadata);
  errs.push(...validatePodSpec(pod.spec, Path.root('spec')));
  const strip = (s: PodSpec) => {
    const c = structuredClone(s) as PodSpec;
    c.containers = (c.containers ?? []).map((x) => ({ ...x, image: '' }));
    c.initContainers = c.initContainers?.map((x) => ({ ...x, image: '' }));
    delete c.activeDeadlineSeconds;
    delete c.tolerations;
    delete c.terminationGracePeriodSeconds;
    delete c.schedulingGates;
    return c;
  };
  // Compared as JSON values, whatever the order of their keys (a protobuf body's is the field numbers').
  const asJSON = (s: PodSpec) => JSON.parse(JSON.stringify(strip(s))) as unknown;
  if (!isDeepStrictEqual(asJSON(pod.spec), asJSON(old.spec))) {
    errs.push(
      field.forbidden(
        Path.root('spec'),
        'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      ),
    );
  }
  return errs;
}

export function validatePodStatusUpdate(pod: Pod, old: Pod): FieldError[] {
  const errs = validateObjectMetaUpdate(pod.metadata, old.metadata);
  (pod.status?.podIPs ?? []).forEach((ip, i) => errs.push(...validateIP(Path.root('status', 'podIPs').index(i), ip.ip)));
  const hostIPs = pod.status?.hostIPs ?? [];
  if (hostIPs.length && pod.status?.hostIP !== hostIPs[0]!.ip) {
    errs.push(field.invalid(Path.root('status', 'hostIPs').index(0).child('ip'), hostIPs[0]!.ip, 'must be equal to `hostIP`'));
  }
  if (old.spec.nodeName && old.status?.phase && ['Succeeded', 'Failed'].includes(old.status.phase) && pod.status?.phase !== old.status.phase) {
    errs.push(field.forbidden(Path.root('status', 'phase'), `cannot transition from terminal phase ${old.status.phase} to ${pod.status?.phase}`));
  }
  return errs;
}

// ---- other core kinds ----

export function validateNamespace(ns: Namespace): FieldError[] {
  const errs = validateObjectMeta(ns.metadata, false, nameIsDNSLabel);
  (ns.spec?.finalizers ?? []).forEach((f, i) => {
    const msgs = isQualifiedName(f);
    for (const m of msgs) errs.push(field.invalid(Path.root('spec', 'finalizers').index(i), f, m));
    if (!msgs.length && !f.includes('/') && f !== 'kubernetes') {
      errs.push(field.invalid(Path.root('spec', 'finalizers').index(i), f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  return errs;
}

export function validateNamespaceUpdate(ns: Namespace, old: Namespace): FieldError[] {
  return [...validateObjectMetaUpdate(ns.metadata, old.metadata), ...validateNamespace(ns).filter((e) => !e.field.startsWith('metadata.name'))];
}

export function validateNode(node: Node): FieldError[] {
  const errs = validateObjectMeta(node.metadata, false, nameIsDNSSubdomain);
  (node.spec?.taints ?? []).forEach((t, i) => {
    const p = Path.root('metadata', 'taints').index(i);
    errs.push(...validateLabelName(t.key, p.child('key')));
    if (!t.effect) errs.push(field.required(p.child('effect')));
    else if (!['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) errs.push(field.notSupported(p.child('effect'), t.effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
  });
  (node.spec?.podCIDRs ?? []).forEach((c, i) => errs.push(...validateCIDR(Path.root('spec', 'podCIDRs').index(i), c)));
  return errs;
}

export function validateNodeUpdate(node: Node, old: Node): FieldError[] {
  const errs = [...validateObjectMetaUpdate(node.metadata, old.metadata), ...validateNode(node)];
  if (old.spec?.podCIDRs?.length && JSON.stringify(old.spec.podCIDRs) !== JSON.stringify(node.spec?.podCIDRs ?? [])) {
    errs.push(field.forbidden(Path.root('spec', 'podCIDRs'), 'node updates may not change podCIDR except from "" to valid'));
  }
  (node.status?.addresses ?? []).forEach((a, i) => {
    if (!['Hostname', 'InternalIP', 'ExternalIP', 'InternalDNS', 'ExternalDNS'].includes(a.type)) {
      errs.push(field.notSupported(Path.root('status', 'addresses').index(i).child('type'), a.type, ['ExternalDNS', 'ExternalIP', 'Hostname', 'InternalDNS', 'InternalIP']));
    }
  });
  return errs;
}

function validateDataKeys(data: unknown, p: Path): FieldError[] {
  if (!isObject(data)) return [];
  const errs: FieldError[] = [];
  for (const k of Object.keys(data)) for (const m of isConfigMapKey(k)) errs.push(field.invalid(p, k, m));
  return errs;
}

/** core.MaxSecretSize: the most a Secret's or a ConfigMap's values may hold together. */
export const maxDataBytes = 1024 * 1024;

/** The bytes a map's values hold: UTF-8 text, or base64 that stands for bytes. */
function dataBytes(data: unknown, encoding: 'utf8' | 'base64'): number {
  if (!isObject(data)) return 0;
  let n = 0;
  for (const v of Object.values(data)) if (typeof v === 'string') n += encoding === 'base64' ? Buffer.byteLength(v, 'base64') : Buffer.byteLength(v);
  return n;
}

export function validateConfigMap(cm: KubeObject): FieldError[] {
  const errs = validateObjectMeta(cm.metadata, true, nameIsDNSSubdomain);
  errs.push(...validateDataKeys(cm.data, Path.root('data')));
  errs.push(...validateDataKeys(cm.binaryData, Path.root('binaryData')));
  if (isObject(cm.data) && isObject(cm.binaryData)) {
    for (const k of Object.keys(cm.data)) if (k in cm.binaryData) errs.push(field.invalid(Path.root('data'), k, 'duplicate of key present in binaryData'));
  }
  // Upstream reports the whole object ("[]"), data and binaryData together.
  if (dataBytes(cm.data, 'utf8') + dataBytes(cm.binaryData, 'base64') > maxDataBytes) errs.push(field.tooLong(Path.root('[]'), '', maxDataBytes));
  return errs;
}

export function validateConfigMapUpdate(cm: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateObjectMetaUpdate(cm.metadata, old.metadata);
  if (old.immutable === true) {
    if (cm.immutable !== true) errs.push(field.forbidden(Path.root('immutable'), 'field is immutable when `immutable` is set'));
    if (JSON.stringify(cm.data ?? {}) !== JSON.stringify(old.data ?? {})) errs.push(field.forbidden(Path.root('data'), 'field is immutable when `immutable` is set'));
  }
  return [...errs, ...validateConfigMap(cm)];
}

export function validateSecret(s: KubeObject): FieldError[] {
  const errs = validateObjectMeta(s.metadata, true, nameIsDNSSubdomain);
  errs.push(...validateDataKeys(s.data, Path.root('data')));
  if (s.type === 'kubernetes.io/tls' && isObject(s.data)) {
    for (const k of ['tls.crt', 'tls.key']) if (!(k in s.data)) errs.push(field.required(Path.root('data').key(k)));
  }
  if (dataBytes(s.data, 'base64') > maxDataBytes) errs.push(field.tooLong(Path.root('data'), '', maxDataBytes));
  return errs;
}

export function validateSecretUpdate(s: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateObjectMetaUpdate(s.metadata, old.metadata);
  errs.push(...validateImmutableField(s.type, old.type, Path.root('type')));
  if (old.immutable === true && JSON.stringify(s.data ?? {}) !== JSON.stringify(old.data ?? {})) {
    errs.push(field.forbidden(Path.root('data'), 'field is immutable when `immutable` is set'));
  }
  return [...errs, ...validateSecret(s)];
}

export function validateEndpoints(ep: KubeObject): FieldError[] {
  const errs = validateObjectMeta(ep.metadata, true, nameIsDNSSubdomain);
  const subsets = Array.isArray(ep.subsets) ? (ep.subsets as Record<string, unknown>[]) : [];
  subsets.forEach((ss, i) => {
    const sp = Path.root('subsets').index(i);
    const addrs = (ss.addresses as { ip: string }[] | undefined) ?? [];
    const notReady = (ss.notReadyAddresses as { ip: string }[] | undefined) ?? [];
    if (addrs.length === 0 && notReady.length === 0) errs.push(field.required(sp, 'must specify `addresses` or `notReadyAddresses`'));
    addrs.forEach((a, j) => {
      const e = validateIP(sp.child('addresses').index(j).child('ip'), a.ip);
      errs.push(...(e.length ? e : validateNonSpecialIP(a.ip, sp.child('addresses').index(j).child('ip'))));
    });
    ((ss.ports as { port: number; protocol?: string; name?: string }[] | undefined) ?? []).forEach((pt, j) => {
      const pp = sp.child('ports').index(j);
      for (const m of isValidPortNum(pt.port)) errs.push(field.invalid(pp.child('port'), pt.port, m));
      if (!pt.protocol) errs.push(field.required(pp.child('protocol')));
      else if (!supportedPortProtocols.includes(pt.protocol)) errs.push(field.notSupported(pp.child('protocol'), pt.protocol, supportedPortProtocols));
    });
  });
  return errs;
}

export function validateEvent(ev: KubeObject): FieldError[] {
  const errs = validateObjectMeta(ev.metadata, true, () => []);
  const involved = isObject(ev.involvedObject) ? ev.involvedObject : {};
  const ns = typeof involved.namespace === 'string' ? involved.namespace : '';
  if (ns && ns !== ev.metadata.namespace) errs.push(field.invalid(Path.root('involvedObject', 'namespace'), ns, 'does not match event.namespace'));
  return errs;
}

export function validateServiceAccount(sa: KubeObject): FieldError[] {
  return validateObjectMeta(sa.metadata, true, nameIsDNSSubdomain);
}
