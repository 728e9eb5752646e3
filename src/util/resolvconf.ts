// resolv.conf(5) as data: what the node agent forms pods' files from and what the cluster DNS
// forwards to, read by both from here.

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

/** resolv.conf(5): nameserver, search/domain and options lines; comments with # or ;. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}
