// Status conditions shared by Pods and Nodes.

/** Whether an object's status carries condition `type` with status "True" (Ready, by default). */
export function hasTrueCondition(o: { status?: { conditions?: { type: string; status: string }[] } }, type = 'Ready'): boolean {
  return (o.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
}
