// A small element builder: the page is plain DOM, no framework.
type Child = Node | string | number | false | null | undefined | Child[];
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v as EventListener);
    else if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export async function getText(url: string, init: RequestInit = {}): Promise<string> {
  const r = await fetch(url, { credentials: 'same-origin', ...init });
  const text = await r.text();
  if (!r.ok) {
    let msg = text;
    try {
      const e = JSON.parse(text) as { code?: string; message?: string };
      msg = `${e.code ?? r.status}: ${e.message ?? text}`;
    } catch {
      /* plain text error */
    }
    throw new Error(msg.trim());
  }
  return text;
}

export const getJSON = async <T>(url: string): Promise<T> => JSON.parse(await getText(url)) as T;
