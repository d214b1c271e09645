/** Signals that stop the agents a command started (`run`, `review request-changes`). */
/**
 * Ctrl-C (SIGINT), SIGTERM (`kill`, `timeout`, a CI job cancelled) and SIGHUP (the terminal closed) stop
 * the agents a command started cleanly: `controller` is aborted with the reason the run records
 * (`interrupted by SIGTERM`). A second Ctrl-C forces exit; a repeated SIGTERM or SIGHUP does not (a
 * closing terminal may send SIGHUP twice, and a forced exit would leave the agent unsupervised, as
 * SIGTERM and SIGHUP did before they were handled). `dispose()` removes the handlers.
 * @param what what is stopped, for the message (`the agents`, `the agent`)
 * @returns the controller whose signal the command passes to the run, and `dispose()`
 */
export function interruptible(what = 'the agents'): { controller: AbortController; dispose(): void } {
  const controller = new AbortController();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      if (signal === 'SIGINT') process.kill(process.pid, 'SIGKILL');
      return;
    }
    // No message after SIGHUP: the terminal it would go to is gone, and each later write to it fails
    // (EIO), which would crash agentctl while it stops the agents and records the runs.
    if (signal === 'SIGHUP') for (const stream of [process.stdout, process.stderr]) stream.removeAllListeners('error').on('error', () => undefined);
    if (signal !== 'SIGHUP') process.stderr.write(`\nagentctl: stopping ${what} (${signal === 'SIGINT' ? 'Ctrl-C again to force' : 'Ctrl-C to force'})…\n`);
    controller.abort(signal === 'SIGINT' ? 'interrupted by the user (SIGINT)' : `interrupted by ${signal}`);
  };
  for (const s of signals) process.on(s, onSignal);
  return {
    controller,
    dispose: () => {
      for (const s of signals) process.removeListener(s, onSignal);
    },
  };
}
