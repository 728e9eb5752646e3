// Admission: what kube-apiserver's admission chain changes in a new object after decoding (and
// defaulting) and before the registry strategy validates it, and the attributes validating
// plugins judge a write by. Only the plugins podpath needs: DefaultIngressClass
// (plugin/pkg/admission/network/defaultingressclass) here, NodeRestriction in noderestriction.ts.
import type { Ingress, IngressClass, KubeObject } from '../api/types.ts';
import type { UserInfo } from './authn.ts';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

/** admission.Attributes: what a write does, to what, by whom. */
export interface AdmissionAttributes {
  operation: Operation;
  user: UserInfo | undefined;
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  /** the object's name (on create, the new object's) */
  name: string;
  object?: KubeObject;
  old?: KubeObject;
}


/** networking.k8s.io/v1 AnnotationIsDefaultIngressClass */
export const annotationIsDefaultIngressClass = 'ingressclass.kubernetes.io/is-default-class';
/** networking.k8s.io/v1beta1 AnnotationIngressClass (the legacy way to name a class) */
export const annotationIngressClass = 'kubernetes.io/ingress.class';

/**
 * getDefaultClass: the IngressClass annotated as the default; with several, the newest
 * (creationTimestamp descending, ties by name ascending), as current upstream picks it.
 */
export function getDefaultClass(classes: readonly IngressClass[]): IngressClass | undefined {
  const created = (c: IngressClass) => Date.parse(c.metadata.creationTimestamp ?? '') || 0;
  const name = (c: IngressClass) => c.metadata.name ?? '';
  return classes
    .filter((c) => c.metadata.annotations?.[annotationIsDefaultIngressClass] === 'true')
    .sort((a, b) => created(b) - created(a) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0))[0];
}

/**
 * DefaultIngressClass (on create only): an Ingress that names no class, by neither
 * spec.ingressClassName nor the legacy annotation, gets the default IngressClass's name.
 */
export function admitDefaultIngressClass(ing: Ingress, listClasses: () => IngressClass[]): void {
  if (ing.spec?.ingressClassName !== undefined) return;
  if (ing.metadata.annotations?.[annotationIngressClass] !== undefined) return;
  const def = getDefaultClass(listClasses());
  if (!def) return;
  ing.spec = { ...ing.spec, ingressClassName: def.metadata.name };
}
