// The kernel's socket tables as /proc/net/{tcp,tcp6,udp,udp6} print them for the reader's network
// namespace: the sockets that accept connections (TCP in state LISTEN, 0A) or datagrams (UDP
// bound with no peer). Addresses are hex words in host byte order (little-endian here).

export interface ListeningSocket {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
}

/** A little-endian 32-bit word's 4 bytes in network order. */
const wordBytes = (hex: string): number[] => [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));

function hexAddress(hex: string): string {
  if (hex.length === 8) return wordBytes(hex).join('.');
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)));
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  // the longest run of zero groups as ::, as the kernel and ss print it
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** The listening sockets of one table's text; `protocol` is the table's (tcp for tcp and tcp6). */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp'): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const [local, remote, state] = [f[1]!, f[2]!, f[3]!];
    const [addr, port] = local.split(':');
    if (!addr || !port) continue;
    const listening = protocol === 'tcp' ? state === '0A' : /^0+:0000$/.test(remote);
    if (listening) out.push({ protocol, address: hexAddress(addr), port: parseInt(port, 16) });
  }
  return out;
}
