// Validation of discovery.k8s.io/v1 EndpointSlice and networking.k8s.io/v1 Ingress,
// IngressClass and NetworkPolicy (kubernetes pkg/apis/{discovery,networking}/validation).
import { field, GoRepr, Path, type FieldError } from '../errors.ts';
import { isObject, type EndpointSlice, type Ingress, type IngressBackend, type IngressClass, type KubeObject, type NetworkPolicy, type NetworkPolicyPeer, type NetworkPolicyPort } from '../types.ts';
import { isValidIP, parseCIDR, cidrContains, formatIP } from '../../util/ip.ts';
import { validateDNS1123Label, validateEndpointIP, validateQualifiedName, validateCIDR } from './core.ts';
import { validateImmutableField, validateLabelSelector, validateNamespaceName, validateObjectMeta, validateObjectMetaUpdate } from './meta.ts';
import {
  isDNS1123Subdomain,
  isDomainPrefixedPath,
  isPathSegmentName,
  isValidPortName,
  isValidPortNum,
  isWildcardDNS1123Subdomain,
  nameIsDNS1035Label,
  nameIsDNSSubdomain,
} from './names.ts';

// ---- EndpointSlice ----

const addressTypes = ['FQDN', 'IPv4', 'IPv6'];
const maxEndpoints = 1000;
const maxPorts = 20000;

function validateEndpointSliceBody(es: EndpointSlice): FieldError[] {
  const errs: FieldError[] = [];
  const at = es.addressType;
  if (!at) errs.push(field.required(Path.root('addressType')));
  else if (!addressTypes.includes(at)) errs.push(field.notSupported(Path.root('addressType'), at, addressTypes));
  const eps = es.endpoints ?? [];
  const ep = Path.root('endpoints');
  if (eps.length > maxEndpoints) errs.push(field.tooMany(ep, eps.length, maxEndpoints));
  eps.forEach((e, i) => {
    const ip = ep.index(i);
    const ap = ip.child('addresses');
    const addrs = e.addresses ?? [];
    if (addrs.length === 0) errs.push(field.required(ap, 'must contain at least 1 address'));
    else if (addrs.length > 100) errs.push(field.invalid(ap, addrs, 'must contain no more than 100 addresses'));
    addrs.forEach((a, j) => {
      const p = ap.index(j);
      if (at === 'IPv4') {
        if (!isValidIP(a) || a.includes(':')) errs.push(field.invalid(p, a, 'must be a valid IPv4 address'));
        else errs.push(...validateEndpointIP(a, p));
      } else if (at === 'IPv6') {
        if (!isValidIP(a) || !a.includes(':')) errs.push(field.invalid(p, a, 'must be a valid IPv6 address'));
        else errs.push(...validateEndpointIP(a, p));
      } else if (at === 'FQDN') {
        const name = a.replace(/\.$/, '');
        const msgs = isDNS1123Subdomain(name);
        if (msgs.length) errs.push(field.invalid(p, name, msgs.join(',')));
        else if (name.split('.').length < 2) errs.push(field.invalid(p, name, 'should be a domain with at least two segments separated by dots'));
      }
    });
    if (e.nodeName !== undefined) for (const m of nameIsDNSSubdomain(e.nodeName, false)) errs.push(field.invalid(ip.child('nodeName'), e.nodeName, m));
    if (e.hostname !== undefined) errs.push(...validateDNS1123Label(e.hostname, ip.child('hostname')));
  });
  const ports = es.ports ?? [];
  const pp = Path.root('ports');
  if (ports.length > maxPorts) errs.push(field.tooMany(pp, ports.length, maxPorts));
  const names = new Set<string>();
  ports.forEach((port, i) => {
    const p = pp.index(i);
    const name = port.name ?? '';
    if (name.length > 0) errs.push(...validateDNS1123Label(name, p.child('name')));
    if (names.has(name)) errs.push(field.duplicate(p.child('name'), name));
    else names.add(name);
    if (!port.protocol) errs.push(field.required(p.child('protocol')));
    else if (!['SCTP', 'TCP', 'UDP'].includes(port.protocol)) errs.push(field.notSupported(p.child('protocol'), port.protocol, ['SCTP', 'TCP', 'UDP']));
    if (port.port !== undefined) for (const m of isValidPortNum(port.port)) errs.push(field.invalid(p.child('port'), port.port, m));
    if (port.appProtocol !== undefined) errs.push(...validateQualifiedName(port.appProtocol, p.child('appProtocol')));
  });
  return errs;
}

export function validateEndpointSlice(es: EndpointSlice): FieldError[] {
  return [...validateObjectMeta(es.metadata, true, nameIsDNSSubdomain), ...validateEndpointSliceBody(es)];
}

export function validateEndpointSliceUpdate(es: EndpointSlice, old: EndpointSlice): FieldError[] {
  return [
    ...validateObjectMetaUpdate(es.metadata, old.metadata),
    ...validateEndpointSliceBody(es),
    ...validateImmutableField(es.addressType, old.addressType, Path.root('addressType')),
  ];
}

// ---- Ingress ----

const invalidPathSequences = ['//', '/./', '/../', '%2f', '%2F'];
const invalidPathSuffixes = ['/..', '/.'];

function validateIngressBackend(b: IngressBackend, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  if (b.resource && b.service) return [field.invalid(p, '', 'cannot set both resource and service backends')];
  if (b.resource) {
    const rp = p.child('resource');
    if (b.resource.apiGroup !== undefined) for (const m of isDNS1123Subdomain(b.resource.apiGroup)) errs.push(field.invalid(rp.child('apiGroup'), b.resource.apiGroup, m));
    if (!b.resource.kind) errs.push(field.required(rp.child('kind')));
    else for (const m of isPathSegmentName(b.resource.kind)) errs.push(field.invalid(rp.child('kind'), b.resource.kind, m));
    if (!b.resource.name) errs.push(field.required(rp.child('name')));
    else for (const m of isPathSegmentName(b.resource.name)) errs.push(field.invalid(rp.child('name'), b.resource.name, m));
    return errs;
  }
  if (!b.service) return [field.invalid(p, '', 'resource or service backend is required')];
  const s = b.service;
  if (!s.name) errs.push(field.required(p.child('service', 'name')));
  else for (const m of nameIsDNS1035Label(s.name, false)) errs.push(field.invalid(p.child('service', 'name'), s.name, m));
  const hasName = Boolean(s.port?.name);
  const hasNumber = Boolean(s.port?.number);
  if (hasName && hasNumber) errs.push(field.invalid(p, '', 'cannot set both port name & port number'));
  else if (hasName) for (const m of isValidPortName(s.port!.name!)) errs.push(field.invalid(p.child('service', 'port', 'name'), s.port!.name!, m));
  else if (hasNumber) for (const m of isValidPortNum(s.port!.number!)) errs.push(field.invalid(p.child('service', 'port', 'number'), s.port!.number!, m));
  else errs.push(field.required(p, 'port name or number is required'));
  return errs;
}

function validateIngressSpec(ing: Ingress): FieldError[] {
  const spec = ing.spec ?? {};
  const sp = Path.root('spec');
  const errs: FieldError[] = [];
  const rules = spec.rules ?? [];
  if (rules.length === 0 && !spec.defaultBackend) {
    errs.push(field.invalid(sp, new GoRepr('[]networking.IngressRule(nil)'), 'either `defaultBackend` or `rules` must be specified'));
  }
  if (spec.defaultBackend) errs.push(...validateIngressBackend(spec.defaultBackend, sp.child('defaultBackend')));
  rules.forEach((r, i) => {
    const rp = sp.child('rules').index(i);
    if (r.host) {
      if (isValidIP(r.host)) errs.push(field.invalid(rp.child('host'), r.host, 'must be a DNS name, not an IP address'));
      const msgs = r.host.includes('*') ? isWildcardDNS1123Subdomain(r.host) : isDNS1123Subdomain(r.host);
      for (const m of msgs) errs.push(field.invalid(rp.child('host'), r.host, m));
    }
    if (r.http) {
      const hp = rp.child('http');
      if (!r.http.paths?.length) errs.push(field.required(hp.child('paths')));
      (r.http.paths ?? []).forEach((path, j) => {
        const pp = hp.child('paths').index(j);
        if (!path.pathType) {
          errs.push(field.required(pp.child('pathType'), 'pathType must be specified'));
          return;
        }
        const pv = path.path ?? '';
        switch (path.pathType) {
          case 'Exact':
          case 'Prefix':
            if (!pv.startsWith('/')) errs.push(field.invalid(pp.child('path'), pv, 'must be an absolute path'));
            if (pv.length > 0) {
              for (const seq of invalidPathSequences) if (pv.includes(seq)) errs.push(field.invalid(pp.child('path'), pv, `must not contain '${seq}'`));
              for (const suf of invalidPathSuffixes) if (pv.endsWith(suf)) errs.push(field.invalid(pp.child('path'), pv, `cannot end with '${suf}'`));
            }
            break;
          case 'ImplementationSpecific':
            if (pv.length > 0 && !pv.startsWith('/')) errs.push(field.invalid(pp.child('path'), pv, 'must be an absolute path'));
            break;
          default:
            errs.push(field.notSupported(pp.child('pathType'), path.pathType, ['Exact', 'ImplementationSpecific', 'Prefix']));
        }
        errs.push(...validateIngressBackend(path.backend ?? {}, pp.child('backend')));
      });
    }
  });
  (spec.tls ?? []).forEach((t, i) => {
    const tp = sp.child('tls').index(i);
    (t.hosts ?? []).forEach((h, j) => {
      const msgs = h.includes('*') ? isWildcardDNS1123Subdomain(h) : isDNS1123Subdomain(h);
      for (const m of msgs) errs.push(field.invalid(tp.child('hosts').index(j), h, m));
    });
    if (t.secretName) for (const m of nameIsDNSSubdomain(t.secretName, false)) errs.push(field.invalid(tp.child('secretName'), t.secretName, m));
  });
  if (spec.ingressClassName !== undefined) {
    for (const m of nameIsDNSSubdomain(spec.ingressClassName, false)) errs.push(field.invalid(sp.child('ingressClassName'), spec.ingressClassName, m));
  }
  return errs;
}

export function validateIngress(ing: Ingress): FieldError[] {
  const errs = [...validateObjectMeta(ing.metadata, true, nameIsDNSSubdomain), ...validateIngressSpec(ing)];
  const ann = ing.metadata.annotations?.['kubernetes.io/ingress.class'];
  if (ann !== undefined && ing.spec?.ingressClassName !== undefined && ann !== ing.spec.ingressClassName) {
    errs.push(field.invalid(Path.root('annotations').child('kubernetes.io/ingress.class'), ann, 'must match `ingressClassName` when both are specified'));
  }
  return errs;
}

export function validateIngressUpdate(ing: Ingress, old: Ingress): FieldError[] {
  return [...validateObjectMetaUpdate(ing.metadata, old.metadata), ...validateObjectMeta(ing.metadata, true, nameIsDNSSubdomain).filter((e) => !e.field.startsWith('metadata.name')), ...validateIngressSpec(ing)];
}

export function validateIngressStatusUpdate(ing: Ingress, old: Ingress): FieldError[] {
  const errs = validateObjectMetaUpdate(ing.metadata, old.metadata);
  (ing.status?.loadBalancer?.ingress ?? []).forEach((lb, i) => {
    const p = Path.root('status', 'loadBalancer').child('ingress').index(i);
    if (lb.ip && !isValidIP(lb.ip)) errs.push(field.invalid(p.child('ip'), lb.ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    if (lb.hostname) {
      for (const m of isDNS1123Subdomain(lb.hostname)) errs.push(field.invalid(p.child('hostname'), lb.hostname, m));
      if (isValidIP(lb.hostname)) errs.push(field.invalid(p.child('hostname'), lb.hostname, 'must be a DNS name, not an IP address'));
    }
  });
  return errs;
}

// ---- IngressClass ----

function validateIngressClassSpec(ic: IngressClass): FieldError[] {
  const spec = ic.spec ?? {};
  const sp = Path.root('spec');
  const errs: FieldError[] = [];
  const ctrl = spec.controller ?? '';
  if (!ctrl) errs.push(field.required(sp.child('controller')));
  else {
    if (ctrl.length > 250) errs.push(field.tooLong(sp.child('controller'), '', 250));
    for (const { value, msg } of isDomainPrefixedPath(ctrl)) errs.push(field.invalid(sp.child('controller'), value, msg));
  }
  const params = spec.parameters;
  if (params) {
    const pp = sp.child('parameters');
    if (params.apiGroup !== undefined) for (const m of isDNS1123Subdomain(params.apiGroup)) errs.push(field.invalid(pp.child('apiGroup'), params.apiGroup, m));
    if (!params.kind) errs.push(field.required(pp.child('kind')));
    else for (const m of isPathSegmentName(params.kind)) errs.push(field.invalid(pp.child('kind'), params.kind, m));
    if (!params.name) errs.push(field.required(pp.child('name')));
    else for (const m of isPathSegmentName(params.name)) errs.push(field.invalid(pp.child('name'), params.name, m));
    if (params.scope === undefined) errs.push(field.required(pp.child('scope')));
    else if (!['Cluster', 'Namespace'].includes(params.scope)) errs.push(field.notSupported(pp.child('scope'), params.scope, ['Cluster', 'Namespace']));
    else if (params.scope === 'Namespace') {
      if (params.namespace === undefined) errs.push(field.required(pp.child('namespace'), "`parameters.scope` is set to 'Namespace'"));
      else for (const m of validateNamespaceName(params.namespace, false)) errs.push(field.invalid(pp.child('namespace'), params.namespace, m));
    } else if (params.namespace !== undefined) {
      errs.push(field.forbidden(pp.child('namespace'), "`parameters.scope` is set to 'Cluster'"));
    }
  }
  return errs;
}

export function validateIngressClass(ic: IngressClass): FieldError[] {
  return [...validateObjectMeta(ic.metadata, false, nameIsDNSSubdomain), ...validateIngressClassSpec(ic)];
}

export function validateIngressClassUpdate(ic: IngressClass, old: IngressClass): FieldError[] {
  return [
    ...validateObjectMetaUpdate(ic.metadata, old.metadata),
    ...validateImmutableField(ic.spec?.controller ?? '', old.spec?.controller ?? '', Path.root('spec').child('controller')),
    ...validateIngressClass(ic),
  ];
}

// ---- NetworkPolicy ----

function validatePeer(peer: NetworkPolicyPeer, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  if (peer.podSelector !== undefined) {
    n++;
    errs.push(...validateLabelSelector(peer.podSelector, p.child('podSelector')));
  }
  if (peer.namespaceSelector !== undefined) {
    n++;
    errs.push(...validateLabelSelector(peer.namespaceSelector, p.child('namespaceSelector')));
  }
  if (peer.ipBlock !== undefined) {
    n++;
    const bp = p.child('ipBlock');
    const cidr = peer.ipBlock.cidr ?? '';
    if (!cidr) errs.push(field.required(bp.child('cidr')));
    else {
      errs.push(...validateCIDR(bp.child('cidr'), cidr));
      const outer = parseCIDR(cidr);
      if (outer) {
        (peer.ipBlock.except ?? []).forEach((ex, i) => {
          const ep = bp.child('except').index(i);
          const e = validateCIDR(ep, ex);
          errs.push(...e);
          const inner = parseCIDR(ex);
          if (!inner) return;
          if (!cidrContains(outer, formatIP(inner.base, inner.family)) || outer.prefix >= inner.prefix) {
            errs.push(field.invalid(ep, ex, 'must be a strict subset of `cidr`'));
          }
        });
      }
    }
  }
  if (n === 0) errs.push(field.required(p, 'must specify a peer'));
  else if (n > 1 && peer.ipBlock !== undefined) errs.push(field.forbidden(p, 'may not specify both ipBlock and another peer'));
  return errs;
}

function validatePorts(ports: NetworkPolicyPort[] | undefined, p: Path): FieldError[] {
  const errs: FieldError[] = [];
  (ports ?? []).forEach((port, i) => {
    const pp = p.index(i);
    if (port.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) errs.push(field.notSupported(pp.child('protocol'), port.protocol, ['TCP', 'UDP', 'SCTP']));
    if (port.port !== undefined) {
      if (typeof port.port === 'number') {
        for (const m of isValidPortNum(port.port)) errs.push(field.invalid(pp.child('port'), port.port, m));
        if (port.endPort !== undefined) {
          if (port.endPort < port.port) errs.push(field.invalid(pp.child('endPort'), port.endPort, 'must be greater than or equal to `port`'));
          for (const m of isValidPortNum(port.endPort)) errs.push(field.invalid(pp.child('endPort'), port.endPort, m));
        }
      } else {
        if (port.endPort !== undefined) errs.push(field.invalid(pp.child('endPort'), port.endPort, 'may not be specified when `port` is non-numeric'));
        for (const m of isValidPortName(port.port)) errs.push(field.invalid(pp.child('port'), port.port, m));
      }
    } else if (port.endPort !== undefined) {
      errs.push(field.invalid(pp.child('endPort'), port.endPort, 'may not be specified when `port` is not specified'));
    }
  });
  return errs;
}

function validateNetworkPolicySpec(np: NetworkPolicy): FieldError[] {
  const spec = np.spec ?? ({ podSelector: {} } as NetworkPolicy['spec']);
  const sp = Path.root('spec');
  const errs: FieldError[] = [...validateLabelSelector(spec.podSelector, sp.child('podSelector'))];
  (spec.ingress ?? []).forEach((rule, i) => {
    const rp = sp.child('ingress').index(i);
    errs.push(...validatePorts(rule.ports, rp.child('ports')));
    (rule.from ?? []).forEach((peer, j) => errs.push(...validatePeer(peer, rp.child('from').index(j))));
  });
  (spec.egress ?? []).forEach((rule, i) => {
    const rp = sp.child('egress').index(i);
    errs.push(...validatePorts(rule.ports, rp.child('ports')));
    (rule.to ?? []).forEach((peer, j) => errs.push(...validatePeer(peer, rp.child('to').index(j))));
  });
  const types = spec.policyTypes ?? [];
  if (types.length > 2) {
    errs.push(field.invalid(sp.child('policyTypes'), new GoRepr(`&[]networking.PolicyType{${types.map((t) => JSON.stringify(t)).join(', ')}}`), 'may not specify more than two policyTypes'));
    return errs;
  }
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') errs.push(field.notSupported(sp.child('policyTypes').index(i), t, ['Ingress', 'Egress']));
  });
  return errs;
}

export function validateNetworkPolicy(np: NetworkPolicy): FieldError[] {
  return [...validateObjectMeta(np.metadata, true, nameIsDNSSubdomain), ...validateNetworkPolicySpec(np)];
}

export function validateNetworkPolicyUpdate(np: NetworkPolicy, old: NetworkPolicy): FieldError[] {
  return [...validateObjectMetaUpdate(np.metadata, old.metadata), ...validateNetworkPolicySpec(np)];
}

export function validateLease(l: KubeObject): FieldError[] {
  return [...validateObjectMeta(l.metadata, true, nameIsDNSSubdomain), ...validateLeaseSpec(l)];
}

/** ValidateLeaseSpec: durations are positive, transitions not negative (on create and update). */
export function validateLeaseSpec(l: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = (isObject(l.spec) ? l.spec : {}) as { leaseDurationSeconds?: number; leaseTransitions?: number };
  const sp = Path.root('spec');
  if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds !== null && spec.leaseDurationSeconds <= 0) {
    errs.push(field.invalid(sp.child('leaseDurationSeconds'), spec.leaseDurationSeconds, 'must be greater than 0'));
  }
  if (spec.leaseTransitions !== undefined && spec.leaseTransitions !== null && spec.leaseTransitions < 0) {
    errs.push(field.invalid(sp.child('leaseTransitions'), spec.leaseTransitions, 'must be greater than or equal to 0'));
  }
  return errs;
}
