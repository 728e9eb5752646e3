// Where a pod's service account token, CA and namespace are mounted (rest.InClusterConfig reads them there).
export const serviceAccountMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';
