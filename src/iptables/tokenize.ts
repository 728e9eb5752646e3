// Words of an iptables-restore line as iptables-restore splits them, and the quoting that writes
// an argument back: a double quote opens and closes a quoted run, in which a backslash takes the
// next character literally; outside quotes, blanks separate words.

export function tokenize(line: string): string[] {
  // Most lines quote nothing: split them at once (a large nat table has hundreds of thousands).
  if (!line.includes('"')) return line.split(/[ \t]+/).filter((w) => w !== '');
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/**
 * How arguments are quoted: "restore" only where the words would otherwise run together (as
 * kube-proxy writes its input: --comment "a b", --comment ns/svc); "save" as iptables-save prints
 * string options (xtables_save_string: the value of --comment, --log-prefix, --nflog-prefix and
 * --helper quoted unless it is all letters, digits, "_" and "-").
 */
export type Quoting = 'restore' | 'save';

const savedAsString = new Set(['--comment', '--log-prefix', '--nflog-prefix', '--helper']);
const plainForSave = /^[A-Za-z0-9_-]+$/;

const quoted = (value: string, escape: RegExp) => `"${value.replace(escape, '\\$&')}"`;

/** One argument as it is written, given the option it is the value of. */
export function quoteArg(value: string, option: string | undefined, style: Quoting): string {
  if (style === 'save' && option !== undefined && savedAsString.has(option)) {
    return plainForSave.test(value) ? value : quoted(value, /["\\']/g);
  }
  return value === '' || /[\s"]/.test(value) ? quoted(value, /["\\]/g) : value;
}

/** An argument list written as one line. */
export function joinArgs(args: readonly string[], style: Quoting): string {
  let line = '';
  for (let i = 0; i < args.length; i++) line += `${i ? ' ' : ''}${quoteArg(args[i]!, args[i - 1], style)}`;
  return line;
}
