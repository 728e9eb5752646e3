// Query parameters as kube-apiserver reads them (apimachinery's query parameter conversion):
// a boolean is false only when it is absent, "0" or "false" in any case; anything else, the
// empty string included, is true. Python's client sends `watch=True`, curl users `?watch`.

/** The boolean value of query parameter `name` (absent → `dflt`). */
export function queryBool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  return !(v === '0' || v.toLowerCase() === 'false');
}
