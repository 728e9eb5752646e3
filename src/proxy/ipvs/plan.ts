// Applying IPVS mode in place (pure): the kernel's table read back from `ipvsadm-save -n` and
// `ipvsadm -Ln`, the edits that take it to the wanted one, and the `ipset restore` script that
// swaps each set in whole.
import { ipvsadmSave, type RealCounts, type VirtualServer } from '../virtualserver.ts';

/** A table as `ipvsadm-save -n` prints it: virtual server → its -A line options and real servers' -a options. */
export function parseIpvsadmSave(text: string): Map<string, { opts: string; reals: Map<string, string> }> {
  const out = new Map<string, { opts: string; reals: Map<string, string> }>();
  for (const line of text.split('\n')) {
    const m = /^-([Aa]) (-[tu]|--sctp-service) (\S+)(?: (.*))?$/.exec(line.trim());
    if (!m) continue;
    const vs = `${m[2]} ${m[3]}`;
    if (m[1] === 'A') out.set(vs, { opts: m[4] ?? '', reals: out.get(vs)?.reals ?? new Map() });
    else {
      const r = /^-r (\S+)(?: (.*))?$/.exec(m[4] ?? '');
      if (!r) continue;
      const e = out.get(vs) ?? { opts: '', reals: new Map<string, string>() };
      e.reals.set(r[1]!, r[2] ?? '');
      out.set(vs, e);
    }
  }
  return out;
}

/** Connection counts per real server as `ipvsadm -Ln` prints them: "-t ip:port" → real "ip:port" → counts. */
export function parseIpvsadmList(text: string): Map<string, Map<string, RealCounts>> {
  const out = new Map<string, Map<string, RealCounts>>();
  let vs: Map<string, RealCounts> | undefined;
  for (const line of text.split('\n')) {
    const v = /^(TCP|UDP|SCTP)\s+(\S+)\s/.exec(line);
    if (v) {
      out.set(`${v[1] === 'TCP' ? '-t' : v[1] === 'UDP' ? '-u' : '--sctp-service'} ${v[2]}`, (vs = new Map()));
      continue;
    }
    const r = /^\s+->\s+(\S+)\s+\S+\s+\d+\s+(\d+)\s+(\d+)/.exec(line);
    if (r && vs) vs.set(r[1]!, { active: Number(r[2]), inactive: Number(r[3]) });
  }
  return out;
}

/**
 * The `ipvsadm-restore` lines that take the kernel's table (`current`, from `ipvsadm-save -n`)
 * to the wanted one, touching only what differs — existing connections keep their servers, as
 * upstream's proxier edits the table in place (-E/-e) rather than rebuilding it. A TCP real
 * server that goes while it still has connections (`counts`, from `ipvsadm -Ln`) is kept with
 * weight 0 until they are gone, as upstream's graceful termination does; UDP and SCTP ones go at once.
 */
export function planIpvsTable(current: string, want: VirtualServer[], counts: Map<string, Map<string, RealCounts>> = new Map()): string[] {
  const have = parseIpvsadmSave(current);
  const wanted = parseIpvsadmSave(ipvsadmSave(want));
  const lines: string[] = [];
  for (const [vs, w] of wanted) {
    const h = have.get(vs);
    if (!h) lines.push(`-A ${vs} ${w.opts}`.trimEnd());
    else if (h.opts !== w.opts) lines.push(`-E ${vs} ${w.opts}`.trimEnd());
    for (const [r, opts] of w.reals) {
      const hr = h?.reals.get(r);
      if (hr === undefined) lines.push(`-a ${vs} -r ${r} ${opts}`.trimEnd());
      else if (hr !== opts) lines.push(`-e ${vs} -r ${r} ${opts}`.trimEnd());
    }
    for (const [r, opts] of h?.reals ?? []) {
      if (w.reals.has(r)) continue;
      const c = counts.get(vs)?.get(r);
      const draining = vs.startsWith('-t ') && c !== undefined && c.active + c.inactive > 0;
      if (!draining) lines.push(`-d ${vs} -r ${r}`);
      else if (!/-w 0$/.test(opts)) lines.push(`-e ${vs} -r ${r} -m -w 0`);
    }
  }
  for (const vs of have.keys()) if (!wanted.has(vs)) lines.push(`-D ${vs}`);
  return lines;
}

/**
 * `ipset restore` input that replaces each set atomically: filled under a temporary name, then
 * swapped in (so a rule never matches a half-filled set).
 */
export function ipsetSwapScript(saveText: string): string {
  const out: string[] = [];
  const creates = new Map<string, string>();
  const adds = new Map<string, string[]>();
  for (const line of saveText.split('\n')) {
    const c = /^create (\S+) (.*)$/.exec(line);
    if (c) {
      creates.set(c[1]!, c[2]!);
      adds.set(c[1]!, []);
      continue;
    }
    const a = /^add (\S+) (.*)$/.exec(line);
    if (a) adds.get(a[1]!)?.push(a[2]!);
  }
  let i = 0;
  for (const [name, spec] of creates) {
    // Set names are at most 31 characters: a long name's temporary one is cut and numbered, so
    // KUBE-LOAD-BALANCER-SOURCE-IP and -SOURCE-CIDR do not share one.
    const tmp = name.length + 4 <= 31 ? `${name}-tmp` : `${name.slice(0, 25)}-tmp${i}`;
    i++;
    out.push(`create ${name} ${spec} -exist`, `create ${tmp} ${spec} -exist`, `flush ${tmp}`);
    for (const e of adds.get(name)!) out.push(`add ${tmp} ${e}`);
    out.push(`swap ${tmp} ${name}`, `destroy ${tmp}`);
  }
  return out.join('\n') + '\n';
}
