/**
 * The post-incident report (GET /v1/incidents/:id/report, docs/approvals.md "The report"): per
 * agent, every grant with its purpose, what decided it, who is accountable (its approvers, or the
 * operator who opened the incident the policy pre-authorised it for), whether it was issued under
 * break-glass, and its revocation timing; the approvals and what each human decided; the
 * refusals; the break-glass windows; and the incident's revocation summary. Built from the audit
 * log, which keeps everything (the ledger forgets ended grants after retention), with each
 * grant's current state from the ledger where it is still there.
 */
import type { DomainDeps } from '../domain.js';
import type { AuditEvent, AuditValue, Grant } from '../model.js';
import { readIncident } from './read_incident.js';
import type { RevocationReport } from './revocation_report.js';

const PAGE = 1000;

export interface ReportGrant {
  readonly grantId: string;
  readonly profile: string;
  readonly provider: string;
  readonly purpose: string;
  readonly issuedAt: number;
  readonly ttlSeconds: number;
  readonly decidedBy: readonly string[];
  readonly accountable: readonly string[];
  readonly approvalId?: string;
  readonly underMajor: boolean;
  readonly state: string;
  readonly revokeReason?: string;
  readonly revokeRequestedAt?: number;
  readonly endedAt?: number;
  /** Revocation requested → ended, ms. */
  readonly revocationMs?: number;
  readonly revocationConfirmed?: boolean;
}

export interface ReportApproval {
  readonly approvalId: string;
  readonly profile: string;
  readonly tier: string;
  readonly purpose: string;
  readonly requestedAt: number;
  readonly quorum: number;
  readonly decisions: readonly { readonly by: string; readonly decision: string; readonly reason: string; readonly at: number }[];
  readonly outcome: string;
}

export interface ReportDenial {
  readonly at: number;
  readonly profile: string;
  readonly code: string;
  readonly decidedBy: readonly string[];
  /** Refusals of the same kind counted with it (retention.repeatWindowSeconds). */
  readonly repeats: number;
}

export interface ReportDeviation {
  readonly at: number;
  /** `deviation.decided` */
  readonly type: string;
  /** The outcome: none, revoke_in_incident, revoke_everywhere, quarantine. */
  readonly reason?: string;
  readonly kind?: string;
  readonly severity?: string;
  /** Who sent the signal: a source, an operator subject, `quartermaster` (a detector). */
  readonly source?: string;
  readonly decidedBy?: readonly string[];
  readonly revoked?: number;
}

export interface AgentSection {
  readonly agent: string;
  readonly grants: readonly ReportGrant[];
  readonly approvals: readonly ReportApproval[];
  readonly denials: readonly ReportDenial[];
  /** Deviation signals about the agent in this incident and what the policy decided (docs/deviation.md). */
  readonly deviations: readonly ReportDeviation[];
}

export interface BreakGlassWindow {
  readonly startedAt: number;
  readonly endsAt: string;
  readonly startedBy: string;
  readonly reason: string;
  readonly endedAt?: number;
  readonly endedBy?: string;
  readonly grants: readonly string[];
}

export interface IncidentReport {
  readonly incident: {
    readonly id: string;
    readonly title: string;
    readonly severity: string;
    readonly status: string;
    readonly source: string;
    readonly openedAt: number;
    readonly openedBy: string;
    readonly closedAt?: number;
    readonly closedBy?: string;
  };
  readonly generatedAt: number;
  readonly agents: readonly AgentSection[];
  readonly breakGlass: readonly BreakGlassWindow[];
  readonly revocation: RevocationReport;
}

const strings = (v: AuditValue | undefined): string[] => (Array.isArray(v) ? [...v] : typeof v === 'string' ? [v] : []);
const str = (v: AuditValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: AuditValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);

async function incidentEvents(deps: Pick<DomainDeps, 'audit'>, incidentId: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for (;;) {
    const page = await deps.audit.list({
      incidentId,
      limit: PAGE,
      ...(out.length > 0 ? { afterSeq: (out.at(-1) as AuditEvent).seq } : {}),
    });
    out.push(...page);
    if (page.length < PAGE) return out;
  }
}

export async function buildIncidentReport(
  deps: Pick<DomainDeps, 'store' | 'audit' | 'now' | 'catalog'>,
  incidentId: string,
): Promise<IncidentReport> {
  const readout = await readIncident(deps, incidentId);
  const events = await incidentEvents(deps, incidentId);
  const ledger = new Map<string, Grant>(readout.grants.map((g) => [g.id, g]));
  const sections = new Map<
    string,
    {
      grants: ReportGrant[];
      approvals: Map<string, ReportApproval>;
      denials: ReportDenial[];
      deviations: AgentSection['deviations'][number][];
    }
  >();
  const section = (agent: string) => {
    let s = sections.get(agent);
    if (!s) {
      s = { grants: [], approvals: new Map(), denials: [], deviations: [] };
      sections.set(agent, s);
    }
    return s;
  };
  const approvalAgent = new Map<string, string>();
  const ended = new Map<string, AuditEvent>();
  const windows: BreakGlassWindow[] = [];
  for (const e of events) {
    if ((e.type === 'grant.revoked' || e.type === 'grant.expired' || e.type === 'grant.released') && e.grantId) ended.set(e.grantId, e);
  }
  for (const e of events) {
    const data = e.data ?? {};
    switch (e.type) {
      case 'grant.issued': {
        if (!e.grantId) break;
        const grant = ledger.get(e.grantId);
        const end = ended.get(e.grantId);
        const revokeRequestedAt = grant?.revokeRequestedAt;
        const endedAt = grant?.endedAt ?? end?.at;
        section(e.actor).grants.push({
          grantId: e.grantId,
          profile: e.profile ?? '',
          provider: str(data.provider) ?? grant?.provider ?? '',
          purpose: str(data.purpose) ?? grant?.purpose ?? '',
          issuedAt: e.at,
          ttlSeconds: num(data.ttlSeconds) ?? grant?.ttlSeconds ?? 0,
          decidedBy: strings(data.decidedBy),
          accountable: strings(data.accountable),
          ...(str(data.approvalId) === undefined ? {} : { approvalId: str(data.approvalId) as string }),
          underMajor: data.underMajor === true,
          state: grant
            ? grant.state === 'active' && grant.expiresAt <= readout.at
              ? 'expired'
              : grant.state
            : (end?.type.slice('grant.'.length) ?? 'forgotten'),
          ...(grant?.revokeReason === undefined ? {} : { revokeReason: grant.revokeReason }),
          ...(revokeRequestedAt === undefined ? {} : { revokeRequestedAt }),
          ...(endedAt === undefined ? {} : { endedAt }),
          ...(revokeRequestedAt !== undefined && endedAt !== undefined ? { revocationMs: Math.max(0, endedAt - revokeRequestedAt) } : {}),
          ...(grant?.revocationConfirmed === undefined ? {} : { revocationConfirmed: grant.revocationConfirmed }),
        });
        break;
      }
      case 'grant.denied':
        section(e.actor).denials.push({
          at: e.at,
          profile: e.profile ?? '',
          code: e.reason ?? '',
          decidedBy: strings(data.decidedBy),
          repeats: num(data.repeats) ?? 0,
        });
        break;
      case 'approval.requested': {
        const id = str(data.approvalId);
        if (!id) break;
        approvalAgent.set(id, e.actor);
        section(e.actor).approvals.set(id, {
          approvalId: id,
          profile: e.profile ?? '',
          tier: str(data.tier) ?? '',
          purpose: str(data.purpose) ?? '',
          requestedAt: e.at,
          quorum: num(data.quorum) ?? 1,
          decisions: [],
          outcome: 'pending',
        });
        break;
      }
      case 'approval.decided':
      case 'approval.approved':
      case 'approval.denied':
      case 'approval.expired':
      case 'approval.cancelled': {
        const id = str(data.approvalId);
        const agent = id === undefined ? undefined : approvalAgent.get(id);
        const entry = agent === undefined || id === undefined ? undefined : section(agent).approvals.get(id);
        if (!entry || id === undefined || agent === undefined) break;
        const next: ReportApproval =
          e.type === 'approval.decided'
            ? {
                ...entry,
                decisions: [
                  ...entry.decisions,
                  { by: e.actor, decision: str(data.decision) ?? '', reason: str(data.reason) ?? '', at: e.at },
                ],
              }
            : { ...entry, outcome: e.type.slice('approval.'.length) };
        section(agent).approvals.set(id, next);
        break;
      }
      case 'incident.major_started':
        windows.push({ startedAt: e.at, endsAt: str(data.endsAt) ?? '', startedBy: e.actor, reason: e.reason ?? '', grants: [] });
        break;
      case 'incident.major_ended': {
        const open = windows.findLast((w) => w.endedAt === undefined);
        if (open) windows[windows.indexOf(open)] = { ...open, endedAt: e.at, endedBy: e.actor };
        break;
      }
      default:
        if (e.type === 'deviation.decided') {
          // Filed under the agent the signal was about, not its sender.
          const agent = str(data.agent) ?? e.actor;
          section(agent).deviations.push({
            at: e.at,
            type: e.type,
            ...(e.reason === undefined ? {} : { reason: e.reason }),
            ...(str(data.kind) === undefined ? {} : { kind: str(data.kind) as string }),
            ...(str(data.severity) === undefined ? {} : { severity: str(data.severity) as string }),
            ...(str(data.source) === undefined ? {} : { source: str(data.source) as string }),
            ...(Array.isArray(data.decidedBy) ? { decidedBy: data.decidedBy as readonly string[] } : {}),
            ...(typeof data.revoked === 'number' ? { revoked: data.revoked } : {}),
          });
        }
    }
  }
  // Each grant issued under break-glass belongs to the window it was issued in.
  const withGrants = windows.map((w) => ({
    ...w,
    grants: [...sections.values()]
      .flatMap((s) => s.grants)
      .filter((g) => g.underMajor && g.issuedAt >= w.startedAt && (w.endedAt === undefined || g.issuedAt <= w.endedAt))
      .map((g) => g.grantId),
  }));
  const incident = readout.incident;
  return {
    incident: {
      id: incident.id,
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      source: incident.source,
      openedAt: incident.openedAt,
      openedBy: incident.openedBy,
      ...(incident.closedAt === undefined ? {} : { closedAt: incident.closedAt }),
      ...(incident.closedBy === undefined ? {} : { closedBy: incident.closedBy }),
    },
    generatedAt: readout.at,
    agents: [...sections.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([agent, s]) => ({
        agent,
        grants: s.grants,
        approvals: [...s.approvals.values()],
        denials: s.denials,
        deviations: s.deviations,
      })),
    breakGlass: withGrants,
    revocation: readout.report,
  };
}
