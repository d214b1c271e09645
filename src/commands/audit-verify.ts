/** `agentctl audit verify`: integrity of the event log (no repository needed). */
import { existsSync } from 'node:fs';
import chalk from 'chalk';
import { EXIT } from '../core/errors.js';
import { agentctlHome, homePaths } from '../core/paths.js';
import { readCheckpoint, verifyLog } from '../evidence/integrity.js';
import { expectedSchemaFingerprint, openEventStore } from '../evidence/store.js';
import { printJson, println } from '../ui/output.js';
import { terminalSafe } from '../ui/terminal.js';

export default async function auditVerify(opts: { json?: boolean }): Promise<number> {
  const { database } = homePaths(agentctlHome());
  if (!existsSync(database)) {
    if (opts.json) printJson({ ok: true, events: 0, problems: [] });
    else println(`No event log yet at ${terminalSafe(database)}.`);
    return EXIT.OK;
  }
  const store = openEventStore(database, { allowTampered: true });
  try {
    const report = verifyLog(store.db, store.query(), expectedSchemaFingerprint(), readCheckpoint(database));
    if (opts.json) printJson({ database, ...report });
    else if (report.ok) println(`${chalk.green('ok')}: ${report.events} events, hash chain intact, schema untouched, checkpoint at #${report.checkpoint?.seq ?? '-'} matches.`);
    else {
      println(`${chalk.red('FAILED')}: ${terminalSafe(database)}${report.firstBadSeq !== undefined ? ` — first bad sequence: ${report.firstBadSeq}` : ''}`);
      for (const p of report.problems) println(`  - ${terminalSafe(p)}`);
    }
    return report.ok ? EXIT.OK : EXIT.INTEGRITY;
  } finally {
    store.close();
  }
}
