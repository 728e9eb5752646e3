// The lab's address plan and defaults, in one place: the components' flags default to these too,
// so a daemon started by hand joins a lab as the lab starts it.
import { proxyModes } from '../proxy/config.ts';

/** the "physical" network joining the nodes and the client (minikube's range) */
export const underlayCIDR = '192.168.49.0/24';
/** the underlay's router address: the lab's upstream DNS resolver answers there */
export const routerIP = '192.168.49.1';
/** the user's computer */
export const clientIP = '192.168.49.100';
/** node N (from 0) is at 192.168.49.(N+2) */
export const nodeIP = (i: number): string => `192.168.49.${i + 2}`;
/** addresses for LoadBalancer Services, answered on the underlay */
export const loadBalancerPool = '192.168.49.200-192.168.49.250';
/** the pod network, one /24 per node */
export const clusterCIDR = '10.244.0.0/16';
/** the range ClusterIPs are allocated from */
export const serviceCIDR = '10.96.0.0/12';
/** the kube-dns Service's ClusterIP, written into pods' resolv.conf */
export const clusterDNS = '10.96.0.10';
/** the host end of every tunnel into a lab (the host has no route into the lab's ranges) */
export const tunnelHost = '127.0.0.1';
/** where each node's kube-proxy serves /metrics and /ipvsadm (its --metrics-bind-address default) */
export const proxyMetricsAddress = '127.0.0.1:10249';
/** a lab's --proxy-mode: kube-proxy's modes, or none (no Service rules) */
export const labProxyModes: readonly string[] = [...proxyModes, 'none'];
/** where each node's kube-proxy answers /healthz (its --healthz-bind-address, 0.0.0.0:10256, from the node itself) */
export const proxyHealthzAddress = '127.0.0.1:10256';
