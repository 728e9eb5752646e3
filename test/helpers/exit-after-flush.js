// Loaded into every test process (bin/run-tests.js). Node 20's --test-force-exit calls
// process.exit() as soon as a file's last test ends, while the file's results may still be
// queued in the runner's reporter stream: the parent then never hears of the file's last
// suites, and counts them as neither passed nor failed. Exiting only once the queued output has
// been written (at most 2 s later) keeps every result.
const exit = process.exit.bind(process);
process.exit = (code) => {
  const started = Date.now();
  let quiet = 0;
  const wait = () => {
    quiet = process.stdout.writableLength === 0 ? quiet + 1 : 0;
    if (quiet >= 3 || Date.now() - started > 2000) exit(code);
    else setTimeout(wait, 5);
  };
  setTimeout(wait, 5);
};
