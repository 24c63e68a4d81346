/**
 * The post-incident report as Markdown (GET /v1/incidents/:id/report?format=markdown): for the
 * incident review, printable. Every value that came from an agent, a tool or an operator (titles,
 * purposes, reasons, ids) is escaped, so it renders as text and never as markup or a table break.
 */
import type { IncidentReport } from './incident_report.js';

/** Text for a Markdown table cell or line: no markup, no HTML, no line or cell breaks. */
export function mdText(value: string): string {
  return value
    .replace(/[\r\n\t]+/gu, ' ')
    .replace(/[\\`*_{}[\]()#+\-!|<>~&]/gu, (c) => `\\${c}`)
    .trim();
}

const when = (ms: number | undefined): string => (ms === undefined ? '—' : new Date(ms).toISOString());
const list = (values: readonly string[]): string => (values.length === 0 ? '—' : values.map(mdText).join(', '));

export function reportMarkdown(r: IncidentReport): string {
  const i = r.incident;
  const out: string[] = [];
  out.push(`# Post-incident report: ${mdText(i.id)}`, '');
  out.push(`${mdText(i.title)}`, '');
  out.push('| | |', '|---|---|');
  out.push(`| severity | ${mdText(i.severity)} |`, `| status | ${mdText(i.status)} |`, `| source | ${mdText(i.source)} |`);
  out.push(`| opened | ${when(i.openedAt)} by ${mdText(i.openedBy)} |`);
  out.push(`| closed | ${i.closedAt === undefined ? '—' : `${when(i.closedAt)} by ${mdText(i.closedBy ?? '')}`} |`);
  out.push(`| report generated | ${when(r.generatedAt)} |`, '');

  const rev = r.revocation;
  out.push('## Revocation', '');
  out.push('| grants | confirmed dead | denied, pending propagation | outstanding | close → all revoked |', '|---:|---:|---:|---:|---:|');
  out.push(
    `| ${rev.total} | ${rev.confirmed} | ${rev.deniedPendingPropagation} | ${rev.outstanding} | ${rev.closeToAllRevokedMs === null ? '—' : `${rev.closeToAllRevokedMs} ms`} |`,
    '',
  );

  out.push('## Break-glass', '');
  if (r.breakGlass.length === 0) out.push('Not used.', '');
  for (const w of r.breakGlass) {
    out.push(
      `- ${when(w.startedAt)} by ${mdText(w.startedBy)}, until ${mdText(w.endsAt)}${w.endedAt === undefined ? ' (still on)' : `, ended ${when(w.endedAt)} by ${mdText(w.endedBy ?? '')}`}: ${mdText(w.reason)}; grants under it: ${list(w.grants)}`,
    );
  }
  if (r.breakGlass.length > 0) out.push('');

  for (const a of r.agents) {
    out.push(`## Agent ${mdText(a.agent)}`, '');
    out.push('### Grants', '');
    if (a.grants.length === 0) out.push('None.', '');
    else {
      out.push(
        '| grant | profile | purpose | issued | decided by | accountable | break-glass | state | revocation |',
        '|---|---|---|---|---|---|---|---|---|',
      );
      for (const g of a.grants) {
        const revocation =
          g.revocationMs === undefined
            ? '—'
            : `${g.revocationMs} ms (${mdText(g.revokeReason ?? '')}${g.revocationConfirmed ? ', confirmed' : ''})`;
        out.push(
          `| ${mdText(g.grantId)} | ${mdText(g.profile)} | ${mdText(g.purpose)} | ${when(g.issuedAt)} | ${list(g.decidedBy)} | ${list(g.accountable)} | ${g.underMajor ? 'yes' : 'no'} | ${mdText(g.state)} | ${revocation} |`,
        );
      }
      out.push('');
    }
    if (a.approvals.length > 0) {
      out.push('### Approvals', '');
      out.push('| approval | profile | tier | purpose | requested | decisions | outcome |', '|---|---|---|---|---|---|---|');
      for (const p of a.approvals) {
        const decisions = p.decisions
          .map((d) => `${mdText(d.decision)} by ${mdText(d.by)} at ${when(d.at)}: ${mdText(d.reason)}`)
          .join('; ');
        out.push(
          `| ${mdText(p.approvalId)} | ${mdText(p.profile)} | ${mdText(p.tier)} | ${mdText(p.purpose)} | ${when(p.requestedAt)} | ${decisions || '—'} (quorum ${p.quorum}) | ${mdText(p.outcome)} |`,
        );
      }
      out.push('');
    }
    if (a.denials.length > 0) {
      out.push('### Refusals', '');
      out.push('| at | profile | code | decided by | repeats |', '|---|---|---|---|---:|');
      for (const d of a.denials)
        out.push(`| ${when(d.at)} | ${mdText(d.profile)} | ${mdText(d.code)} | ${list(d.decidedBy)} | ${d.repeats} |`);
      out.push('');
    }
    out.push('### Deviations', '');
    if (a.deviations.length === 0) out.push('None recorded.', '');
    for (const d of a.deviations) {
      const what = [d.kind, d.severity, d.source === undefined ? undefined : `from ${d.source}`].filter((x) => x !== undefined).join(', ');
      const by = d.decidedBy === undefined || d.decidedBy.length === 0 ? '' : ` (${list(d.decidedBy)})`;
      out.push(
        `- ${when(d.at)} ${mdText(what || d.type)}: ${mdText(d.reason ?? 'decided')}${by}${d.revoked ? `, ${d.revoked} revoked` : ''}`,
      );
    }
    if (a.deviations.length > 0) out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
