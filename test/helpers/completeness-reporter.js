// A reporter for bin/run-tests.js: appends to $PODPATH_TEST_UNENDED a line for each top-level test
// or suite a file declares ("+ FILE: NAME") and for each that ends ("- FILE: NAME"), written at
// once (not through the reporter's stream, which a forced exit may cut short), so the runner can
// tell a file cut short from one that passed. A line "= FILE\tMS" gives the time a top-level test or
// suite took (its hooks included), from which the runner names the slowest files.
import fs from 'node:fs';

export default async function* completeness(source) {
  const out = process.env.PODPATH_TEST_UNENDED;
  for await (const ev of source) {
    const d = ev.data;
    if (!out || !d || d.nesting !== 0 || !d.file || d.name === d.file) continue;
    const mark = ev.type === 'test:enqueue' ? '+' : ev.type === 'test:pass' || ev.type === 'test:fail' ? '-' : '';
    if (mark) fs.appendFileSync(out, `${mark} ${d.file}: ${d.name.replace(/\n/g, ' ')}\n`);
    if (mark === '-') fs.appendFileSync(out, `= ${d.file}\t${Math.round(d.details?.duration_ms ?? 0)}\n`);
  }
  yield '';
}
