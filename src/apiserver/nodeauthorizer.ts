// The Node authorizer (plugin/pkg/auth/authorizer/node): a node agent, authenticated as
// system:node:<name> in group system:nodes, may read the secrets, configmaps and claims of the
// pods bound to it, request tokens for their service accounts, read and write its own Node and
// Lease, list and watch its own pods (by a spec.nodeName field selector, as the
// AuthorizeNodeWithSelectors feature has it since 1.32) and do what NodeRules grant every node.
// Everything else it leaves to the next authorizer (NoOpinion), with upstream's reason.
import { ruleAllows } from '../api/rbac.ts';
import type { UserInfo } from './authn.ts';
import type { Attributes, Decision } from './authorizer.ts';
import { nodeRules } from './bootstrappolicy.ts';
import type { NodeGraph, VertexType } from './nodegraph.ts';

export const nodesGroup = 'system:nodes';
const nodeUserPrefix = 'system:node:';

/** nodeidentifier.NodeIdentity: the node a user is, '' for a node user with no name, undefined for anyone else. */
export function nodeIdentity(user: UserInfo): string | undefined {
  if (!user.username.startsWith(nodeUserPrefix)) return undefined;
  if (!user.groups.includes(nodesGroup)) return undefined;
  return user.username.slice(nodeUserPrefix.length);
}

const allow: Decision = { decision: 'Allow', reason: '' };
const noOpinion = (reason = ''): Decision => ({ decision: 'NoOpinion', reason });

export class NodeAuthorizer {
  constructor(private readonly graph: () => NodeGraph) {}

  authorize(attrs: Attributes): Decision {
    const node = nodeIdentity(attrs.user);
    if (node === undefined) return noOpinion();
    if (node === '') return noOpinion(`unknown node for user ${JSON.stringify(attrs.user.username)}`);
    if (attrs.resourceRequest) {
      const group = attrs.apiGroup ?? '';
      const resource = attrs.resource ?? '';
      if (group === '') {
        switch (resource) {
          case 'secrets':
            return this.readNamespacedObject(node, 'secret', attrs);
          case 'configmaps':
            return this.readNamespacedObject(node, 'configmap', attrs);
          case 'persistentvolumeclaims':
            return attrs.subresource === 'status' ? this.statusUpdate(node, 'pvc', attrs) : this.get(node, 'pvc', attrs);
          case 'serviceaccounts':
            return this.createToken(node, attrs);
          case 'nodes':
            return authorizeNode(node, attrs);
          case 'pods':
            return this.pod(node, attrs);
        }
      }
      if (group === 'coordination.k8s.io' && resource === 'leases') return authorizeLease(node, attrs);
      if (group === 'storage.k8s.io' && resource === 'csinodes') return authorizeCSINode(node, attrs);
    }
    // Access to other resources is not subdivided: the statically defined node rules.
    return nodeRules.some((r) => ruleAllows(attrs, r)) ? allow : noOpinion();
  }

  private statusUpdate(node: string, type: VertexType, a: Attributes): Decision {
    if (a.verb !== 'update' && a.verb !== 'patch') return noOpinion('can only get/update/patch this type');
    return this.related(node, type, a);
  }

  private get(node: string, type: VertexType, a: Attributes): Decision {
    if (a.verb !== 'get') return noOpinion('can only get individual resources of this type');
    if (a.subresource) return noOpinion('cannot get subresource');
    return this.related(node, type, a);
  }

  private readNamespacedObject(node: string, type: VertexType, a: Attributes): Decision {
    if (a.verb !== 'get' && a.verb !== 'list' && a.verb !== 'watch') return noOpinion('can only read resources of this type');
    if (a.subresource) return noOpinion('cannot read subresource');
    if (!a.namespace) return noOpinion('can only read namespaced object of this type');
    return this.related(node, type, a);
  }

  private related(node: string, type: VertexType, a: Attributes): Decision {
    if (!a.name) return noOpinion('No Object name found');
    return this.path(node, type, a);
  }

  private path(node: string, type: VertexType, a: Attributes): Decision {
    const found = this.graph().hasPathFrom(node, type, a.namespace ?? '', a.name ?? '');
    return found.ok ? allow : noOpinion(`no relationship found between node '${node}' and this object`);
  }

  private createToken(node: string, a: Attributes): Decision {
    if (a.verb !== 'create' || !a.name) return noOpinion('can only create tokens for individual service accounts');
    if (a.subresource !== 'token') return noOpinion('can only create token subresource of serviceaccount');
    return this.path(node, 'serviceAccount', a);
  }

  private pod(node: string, a: Attributes): Decision {
    switch (a.subresource ?? '') {
      case '':
        switch (a.verb) {
          case 'get':
            return this.get(node, 'pod', a);
          case 'list':
          case 'watch':
            if ((a.fieldSelector ?? []).some((r) => r.field === 'spec.nodeName' && r.op === '=' && r.value === node)) return allow;
            if (a.name) return this.related(node, 'pod', a);
            return noOpinion('can only list/watch pods with spec.nodeName field selector');
          case 'create':
          case 'delete':
            // mirror pods; NodeRestriction holds a node to its own
            return allow;
        }
        break;
      case 'status':
        if (a.verb === 'update' || a.verb === 'patch') return allow;
        break;
      case 'eviction':
        if (a.verb === 'create') return allow;
        break;
    }
    return noOpinion();
  }
}

function authorizeNode(node: string, a: Attributes): Decision {
  switch (a.subresource ?? '') {
    case '':
      switch (a.verb) {
        case 'create':
        case 'update':
        case 'patch':
          // NodeRestriction limits a node to its own Node object
          return allow;
        case 'get':
        case 'list':
        case 'watch':
          // the name, not the graph: a node may read its Node before creating it
          if (a.name === node) return allow;
          if (!a.name) return noOpinion(`node '${node}' cannot read all nodes, only its own Node object`);
          return noOpinion(`node '${node}' cannot read '${a.name}', only its own Node object`);
      }
      break;
    case 'status':
      if (a.verb === 'update' || a.verb === 'patch') return allow;
      break;
  }
  return noOpinion();
}

function authorizeLease(node: string, a: Attributes): Decision {
  if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return noOpinion('can only get, create, update, patch, or delete a node lease');
  if (a.namespace !== 'kube-node-lease') return noOpinion('can only access leases in the "kube-node-lease" system namespace');
  // on create the name is in the body: NodeRestriction checks it
  if (a.verb !== 'create' && a.name !== node) return noOpinion('can only access node lease with the same name as the requesting node');
  return allow;
}

function authorizeCSINode(node: string, a: Attributes): Decision {
  if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return noOpinion('can only get, create, update, patch, or delete a CSINode');
  if (a.subresource) return noOpinion('cannot authorize CSINode subresources');
  if (a.verb !== 'create' && a.name !== node) return noOpinion('can only access CSINode with the same name as the requesting node');
  return allow;
}
