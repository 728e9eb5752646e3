// What answers at a pod's port, from the objects: a container that declares it, or the Gateway
// controller's nginx on the port it opens for a Gateway listener (one per listener, opened as
// Gateways come: the pod's spec cannot list them). The trace's delivery hop and diagnose's path
// check both ask; and which pods are the Ingress and Gateway controllers.
import type { Container, Pod, Service } from '../api/types.ts';
import { gatewayAtTargetPort } from '../gateway/provision.ts';

const controllerOf = (name: string) => (p: Pod) => p.metadata.labels?.['app.kubernetes.io/name'] === name && p.metadata.labels?.['app.kubernetes.io/component'] === 'controller';
/** The Ingress controller's pods (ingress-nginx's labels), and the Gateway controller's. */
export const isIngressController = controllerOf('ingress-nginx');
export const isGatewayController = controllerOf('podpath-gateway');

export type PortServer = { container: Container } | { gateway: string; listenerPort: number };

/** What serves `port`/`protocol` (lower case) in `p`, or undefined when nothing is known to. */
export function portServer(p: Pod, port: number, protocol: string, services: Service[]): PortServer | undefined {
  const c = (p.spec?.containers ?? []).find((c) => (c.ports ?? []).some((cp) => cp.containerPort === port && (cp.protocol ?? 'TCP').toLowerCase() === protocol));
  if (c) return { container: c };
  const own = isGatewayController(p) && protocol === 'tcp' ? gatewayAtTargetPort(services, port) : undefined;
  return own ? { gateway: own.gateway, listenerPort: own.port } : undefined;
}
