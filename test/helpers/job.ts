// The Job controller's rounds for unit tests of planJob: each plan's status written, then the
// tracking finalizers it removes gone from the pods and the pods it deletes marked deleting,
// until nothing changes.
import type { Job, Pod } from '../../src/api/types.ts';
import { jobTrackingFinalizer, planJob, type JobPlan } from '../../src/controllers/job.ts';

export function settle(j: Job, pods: Pod[], now: number): { job: Job; pods: Pod[]; plan: JobPlan; plans: JobPlan[] } {
  const plans: JobPlan[] = [];
  const deletedAt = new Date(Math.floor(now / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  for (let i = 0; i < 10; i++) {
    const plan = planJob(j, pods, now);
    plans.push(plan);
    const before = JSON.stringify([j.status, pods]);
    j = { ...j, status: plan.status };
    pods = pods.map((p) => {
      const q = structuredClone(p);
      if (plan.removeFinalizers.includes(p.metadata.name!)) q.metadata.finalizers = (q.metadata.finalizers ?? []).filter((f) => f !== jobTrackingFinalizer);
      if (plan.delete.includes(p.metadata.name!)) q.metadata.deletionTimestamp = deletedAt;
      return q;
    });
    if (JSON.stringify([j.status, pods]) === before) return { job: j, pods, plan, plans };
  }
  throw new Error('planJob did not settle');
}
