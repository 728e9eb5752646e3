// Which Ingresses a controller serves: those whose class — `spec.ingressClassName`, else the
// legacy `kubernetes.io/ingress.class` annotation — names an IngressClass of this controller.
// An Ingress without either is served only with --watch-ingress-without-class (the API server's
// admission has already given it the default class when there is one); an Ingress naming a class
// that does not exist, or belongs to another controller, is not ours and gets no status.
import type { Ingress, IngressClass } from '../api/types.ts';

export const legacyClassAnnotation = 'kubernetes.io/ingress.class';
export const defaultClassAnnotation = 'ingressclass.kubernetes.io/is-default-class';

export interface ControllerClass {
  /** the IngressClass spec.controller this controller answers to (ingress-nginx: k8s.io/ingress-nginx) */
  controller: string;
  /** the class name (--ingress-class, default nginx) */
  ingressClass: string;
  /** serve Ingresses that name no class at all */
  watchWithoutClass: boolean;
}

export const defaultControllerClass: ControllerClass = { controller: 'k8s.io/ingress-nginx', ingressClass: 'nginx', watchWithoutClass: false };

/** The class an Ingress asks for, and how. */
export function requestedClass(ing: Ingress): string | undefined {
  return ing.spec?.ingressClassName ?? ing.metadata.annotations?.[legacyClassAnnotation];
}

/** Whether this controller serves `ing`, with the reason when it does not. */
export function isOurs(ing: Ingress, classes: IngressClass[], cc: ControllerClass): { ours: boolean; reason: string } {
  const name = ing.spec?.ingressClassName;
  if (name !== undefined) {
    const ic = classes.find((c) => c.metadata.name === name);
    if (!ic) return { ours: false, reason: `IngressClass ${name} does not exist` };
    if (ic.spec?.controller !== cc.controller) return { ours: false, reason: `IngressClass ${name} belongs to controller ${ic.spec?.controller ?? '(none)'}` };
    return { ours: true, reason: `ingressClassName ${name}` };
  }
  const legacy = ing.metadata.annotations?.[legacyClassAnnotation];
  if (legacy !== undefined) {
    // ingress-nginx matches the deprecated annotation against its class name
    return legacy === cc.ingressClass ? { ours: true, reason: `annotation ${legacyClassAnnotation}: ${legacy}` } : { ours: false, reason: `annotation ${legacyClassAnnotation} names ${legacy}` };
  }
  return cc.watchWithoutClass ? { ours: true, reason: 'no class (--watch-ingress-without-class)' } : { ours: false, reason: 'no ingressClassName and no default IngressClass' };
}
