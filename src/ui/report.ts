/**
 * The evidence report (`agentctl promote --html FILE`): one self-contained HTML page (inline CSS and
 * SVG, no scripts, no network) with, per trust profile, the level over time, each run's outcome and the
 * rolling merge rate, plus the metrics table and the decision history. Pure: data in, HTML out.
 */
import { REPORT_RUNS, type Evidence, type TrustProfile } from '../evidence/projections/trust.js';
import { evidenceOf, type Recommendation, type RunRecord } from '../evidence/projections/trust-rules.js';
import { terminalSafe } from './terminal.js';

/** One profile as the report shows it. */
export interface ReportProfile {
  profile: TrustProfile;
  evidence: Evidence;
  recommendation: Recommendation;
}

// Bidi overrides and other invisible characters would reorder or hide text in the page too.
const esc = (s: unknown): string => terminalSafe(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (r: number | null) => (r === null ? '–' : `${Math.round(r * 100)}%`);
const LEVEL_Y: Record<string, number> = { hold: 70, review: 40, auto: 10 };
const OUTCOME_COLOR: Record<string, string> = { merged: '#2e7d32', discarded: '#c62828', failed: '#757575', interrupted: '#ef6c00', open: '#f9a825' };

/** Level over time: a step line over the profile's runs, with level changes placed at their sequence. */
function levelChart(p: TrustProfile): string {
  const seqs = [...p.runs.map((r) => r.seq), ...p.history.map((h) => h.seq)];
  const min = Math.min(...seqs, 0);
  const max = Math.max(...seqs, 1);
  const x = (seq: number) => 40 + ((seq - min) / Math.max(1, max - min)) * 520;
  let path = `M ${x(min)} ${LEVEL_Y[p.history[0]?.from ?? p.level]}`;
  for (const h of p.history) path += ` H ${x(h.seq)} V ${LEVEL_Y[h.to]}`;
  path += ` H ${x(max)}`;
  const marks = p.history.map((h) => `<circle cx="${x(h.seq)}" cy="${LEVEL_Y[h.to]}" r="4" fill="${h.kind === 'promotion' ? '#2e7d32' : '#c62828'}"><title>${esc(`#${h.seq} ${h.from} → ${h.to} (${h.kind}) by ${h.by}: ${h.reason}`)}</title></circle>`).join('');
  return `<svg viewBox="0 0 580 80" role="img" aria-label="level over time"><text x="0" y="14">auto</text><text x="0" y="44">review</text><text x="0" y="74">hold</text><path d="${path}" fill="none" stroke="#1565c0" stroke-width="2"/>${marks}</svg>`;
}

/**
 * One bar per run colored by outcome, and the rolling merge rate (over the last 5 decided runs) as a
 * line. The rate is {@link Evidence.mergeRate}, merged / (merged + discarded): failed runs do not count.
 */
function runsChart(p: TrustProfile): string {
  const runs = p.runs.slice(-REPORT_RUNS);
  const w = Math.max(4, Math.min(20, 520 / Math.max(1, runs.length)));
  const bars = runs.map((r, i) => `<rect x="${40 + i * w}" y="50" width="${w - 1}" height="20" fill="${OUTCOME_COLOR[r.outcome]}"><title>${esc(`${r.runId}: ${r.outcome}${r.scopeViolations ? ', scope violation' : ''}${r.regression ? ', reverted' : ''}`)}</title></rect>`).join('');
  const decided: RunRecord[] = [];
  const points: string[] = [];
  runs.forEach((r, i) => {
    if (r.outcome === 'merged' || r.outcome === 'discarded' || r.outcome === 'failed') decided.push(r);
    const rate = evidenceOf(decided.slice(-5)).mergeRate;
    if (rate !== null) points.push(`${40 + i * w + w / 2},${45 - rate * 40}`);
  });
  const line = points.length > 1 ? `<polyline points="${points.join(' ')}" fill="none" stroke="#2e7d32" stroke-width="2"/>` : '';
  return `<svg viewBox="0 0 580 75" role="img" aria-label="runs and rolling merge rate"><text x="0" y="10">100%</text><text x="0" y="48">0%</text>${line}${bars}</svg>`;
}

/**
 * Render the report.
 * @param project project name
 * @param profiles profiles with their window evidence and recommendation
 * @param generatedAt ISO time shown in the header
 */
export function trustReportHtml(project: string, profiles: readonly ReportProfile[], generatedAt: string): string {
  const sections = profiles
    .map(({ profile: p, evidence: e, recommendation: r }) => {
      const rows: [string, string][] = [
        ['runs', String(e.runs)], ['unsandboxed (earn nothing)', String(e.unsandboxed ?? 0)], ['merged', String(e.merged)], ['merged the first time', String(e.mergedFirstTime ?? e.merged)], ['merged after changes', String(e.mergedAfterChanges ?? 0)], ['attempts per merged run', e.roundsPerMerged == null ? '–' : e.roundsPerMerged.toFixed(1)], ['discarded', String(e.discarded)], ['failed', String(e.failed)],
        ['merge rate', pct(e.mergeRate)], ['approved unmodified', pct(e.approvedUnmodifiedRate)], ['rejection rate', pct(e.rejectionRate)],
        ['gate failure rate', pct(e.gateFailureRate)], ['regressions', String(e.regressions)], ['scope violations', String(e.scopeViolations)],
        ['escalation attempts', String(e.escalationAttempts)], ['intervention rate', pct(e.interventionRate)], ['consecutive merged', String(e.consecutiveMerged)],
        ['median duration', e.medianDurationMs === null ? '–' : `${(e.medianDurationMs / 1000).toFixed(1)} s`],
        ['tokens per run', e.tokensPerRun === null ? '–' : Math.round(e.tokensPerRun).toString()],
        ['cost per merged change', e.costPerMergedUsd === null ? '–' : `$${e.costPerMergedUsd.toFixed(4)}`],
      ];
      const history = p.history.length
        ? `<table><tr><th>event</th><th>time</th><th>change</th><th>by</th><th>why</th></tr>${p.history.map((h) => `<tr><td>#${h.seq}</td><td>${esc(h.ts)}</td><td>${esc(`${h.from} → ${h.to}`)} (${esc(h.kind)})</td><td>${esc(h.by)}</td><td>${esc(h.reason)}</td></tr>`).join('')}</table>`
        : '<p>No level changes yet.</p>';
      return `<section><h2>${esc(p.agent)} · ${esc(p.taskType)} <span class="lvl ${esc(p.level)}">${esc(p.level)}</span></h2>
<p>${esc(p.reason)}</p><p><b>Recommendation:</b> ${esc(r.reason)}${r.missing.length ? ` — ${esc(r.missing.join('; '))}` : ''}</p>
<h3>Level over time</h3>${levelChart(p)}<h3>Runs (green merged, red discarded, grey failed) and rolling merge rate</h3>${runsChart(p)}
<h3>Evidence (window)</h3><table>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table><h3>History</h3>${history}</section>`;
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>agentctl trust report — ${esc(project)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}section{border-top:1px solid #ddd;padding:1em 0}svg{width:100%;max-width:580px;height:auto;font-size:10px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}.lvl{padding:1px 6px;border-radius:4px;color:#fff;font-size:12px}.hold{background:#c62828}.review{background:#f9a825}.auto{background:#2e7d32}</style>
</head><body><h1>Trust report: ${esc(project)}</h1><p>Generated ${esc(generatedAt)} from the event log. Levels rise only by recorded human promotions; critical events demote at once.</p>
${sections || '<p>No evidence yet.</p>'}</body></html>
`;
}
