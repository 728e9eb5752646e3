// The kubelet's webhook authenticator and authorizer: TokenReview and SubjectAccessReview, asked
// of the API server with the agent's own credentials.
import type { Client } from '../client/client.ts';
import type { NodeAttributes, Reviews, UserInfo } from './auth.ts';

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: UserInfo;
  error?: string;
}

export function webhookReviews(client: Client): Reviews {
  return {
    async tokenReview(token) {
      const r = await client.request<{ status?: TokenReviewStatus }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
      const s = r.status;
      if (!s?.authenticated || !s.user?.username) return undefined;
      return { username: s.user.username, groups: s.user.groups ?? [], ...(s.user.uid ? { uid: s.user.uid } : {}), ...(s.user.extra ? { extra: s.user.extra } : {}) };
    },
    async subjectAccessReview(user, a: NodeAttributes) {
      const spec = {
        user: user.username,
        groups: user.groups,
        ...(user.uid ? { uid: user.uid } : {}),
        ...(user.extra ? { extra: user.extra } : {}),
        resourceAttributes: { verb: a.verb, version: a.apiVersion, resource: a.resource, subresource: a.subresource, name: a.name },
      };
      const r = await client.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec });
      return r.status?.allowed === true;
    },
  };
}
