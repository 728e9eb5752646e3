// The lab's address plan for the trace tests (what `podpath trace` takes from src/lab/defaults.ts).
import type { AddressPlan } from '../../src/trace/cluster.ts';
import { clientIP, clusterCIDR, clusterDNS, routerIP, serviceCIDR, underlayCIDR } from '../../src/lab/defaults.ts';

export const labPlan: AddressPlan = { underlayCIDR, routerIP, clientIP, clusterCIDR, serviceCIDR, clusterDNS, clusterDomain: 'cluster.local', cniBackend: 'host-gw' };
