// The one place typed iptables tables become text: iptables-restore input (kube-proxy's quoting)
// or iptables-save's own form (its quoting of comments), so that parsing either and writing it
// back in its style gives the same bytes.
import { joinArgs, type Quoting } from './tokenize.ts';
import type { Counters, Rule, Table, TableOp } from './types.ts';

const counterText = (c: Counters) => `[${c.packets}:${c.bytes}]`;

/** "-A CHAIN args…" with the rule's counters in front when it has them. */
export function ruleLine(command: string, rule: Rule, style: Quoting = 'restore', extra: string[] = []): string {
  let text = `${command} ${rule.chain}`;
  for (const w of extra) text += ` ${w}`;
  if (rule.args.length) text += ` ${joinArgs(rule.args, style)}`;
  return rule.counters ? `${counterText(rule.counters)} ${text}` : text;
}

function opLine(o: TableOp, style: Quoting): string {
  switch (o.op) {
    case 'append':
      return ruleLine('-A', o.rule, style);
    case 'insert':
      return ruleLine('-I', o.rule, style, o.position === undefined ? [] : [String(o.position)]);
    case 'delete':
      return ruleLine('-D', o.rule, style);
    case 'newChain':
      return `-N ${o.chain}`;
    case 'flushChain':
      return `-F ${o.chain}`;
    case 'deleteChain':
      return `-X ${o.chain}`;
  }
}

/** Tables as iptables-restore input (style "restore") or as iptables-save prints them ("save"). */
export function serializeDump(tables: readonly Table[], style: Quoting = 'restore'): string {
  const lines: string[] = [];
  for (const t of tables) {
    lines.push(...(t.header ?? []), `*${t.name}`);
    for (const c of t.chains) lines.push(`:${c.name} ${c.policy} ${counterText(c.counters)}`);
    for (const o of t.ops) lines.push(opLine(o, style));
    lines.push('COMMIT', ...(t.footer ?? []));
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
