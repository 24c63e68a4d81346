/**
 * A signal from a detection system (`POST /v1/signals`, docs/deviation.md "Sending signals"): its
 * subject is resolved to the agent — and, for a credential, its grant and incident — before the
 * signal is queued, so a sender learns at once that it named something the broker never issued
 * (404 ERR_SIGNAL_SUBJECT_UNKNOWN, audited as `deviation.signal_unresolved`). What the signal
 * leads to is decided when it is applied (apply_signal.ts), by the policy.
 */
import type { DomainDeps } from '../domain.js';
import { BrokerError, incidentNotFound } from '../errors.js';
import { provenanceOf, type Actor, type SignalSeverity } from '../model.js';
import { CORE_SUBJECT_FORMATS } from '../catalog/provider_boundary.js';
import { raiseSignal, type Signal, type SignalSubject } from './signal.js';

export interface SignalInput {
  readonly id: string;
  readonly kind: string;
  readonly severity: SignalSeverity;
  readonly subject: SignalSubject;
  readonly incidentId?: string;
  readonly summary?: string;
  readonly evidence?: readonly string[];
  readonly observedAt?: number;
}

export interface SignalReceipt {
  readonly status: 'accepted' | 'duplicate';
  readonly signal: Signal;
}

/** The subject formats a signal may use here: core's own and those the configured providers declare. */
export function subjectFormats(catalog: DomainDeps['catalog']): string[] {
  const declared = catalog.providers().flatMap((p) => Object.keys(p.capabilities.subjects ?? {}));
  return [...new Set([...CORE_SUBJECT_FORMATS, ...declared])];
}

const unknownSubject = (format: string): BrokerError =>
  new BrokerError('ERR_SIGNAL_SUBJECT_UNKNOWN', 404, `no grant or agent the broker knows has this ${format}`);

interface Resolved {
  readonly agent: string;
  readonly incidentId?: string;
  readonly grantId?: string;
}

/** What the subject names, in the broker's terms; throws 404 for what it never issued, 400 for a format nobody declares. */
export async function resolveSubject(
  deps: Pick<DomainDeps, 'store' | 'catalog'>,
  subject: SignalSubject,
  incidentId: string | undefined,
): Promise<Resolved> {
  if (subject.format === 'agent') {
    if (incidentId !== undefined && (await deps.store.getIncident(incidentId)) === null) throw incidentNotFound();
    return { agent: subject.id, ...(incidentId === undefined ? {} : { incidentId }) };
  }
  let grantId: string | null;
  if (subject.format === 'grant_id' || subject.format === 'jti') grantId = subject.id;
  else if (subjectFormats(deps.catalog).includes(subject.format))
    grantId = await deps.store.findGrantBySubject(`${subject.format}:${subject.id}`);
  else
    throw new BrokerError('ERR_VALIDATION', 400, `subject.format must be one of ${subjectFormats(deps.catalog).join(', ')}`, {
      publicFields: { formats: subjectFormats(deps.catalog) },
    });
  const grant = grantId === null ? null : await deps.store.getGrant(grantId);
  if (grant === null) throw unknownSubject(subject.format);
  // A jti names a broker-signed token: the grant of one, or nothing the broker issued.
  if (subject.format === 'jti' && grant.handle?.jti !== grant.id) throw unknownSubject(subject.format);
  if (incidentId !== undefined && incidentId !== grant.incidentId)
    throw new BrokerError('ERR_SIGNAL_MISMATCH', 422, 'the credential was not granted for the incident the signal names');
  return { agent: grant.agent, incidentId: grant.incidentId, grantId: grant.id };
}

/**
 * The subject as the audit shows it: an agent id, or a grant id / jti (short, of identifier
 * characters). A provider's credential identifier is not kept — some are sensitive (a Vault
 * accessor can look up and revoke its token) — nor anything else a sender put there, a whole
 * token pasted as a `jti`: only its length.
 */
function shownSubject(subject: SignalSubject): string {
  if (subject.format === 'agent') return subject.id;
  if ((subject.format === 'grant_id' || subject.format === 'jti') && /^[A-Za-z0-9._:-]{1,64}$/u.test(subject.id)) return subject.id;
  return `(${subject.id.length} characters, not kept)`;
}

/** Resolves and queues a signal from `source`; a duplicate of one it sent before changes nothing. */
export async function receiveSignal(
  deps: DomainDeps,
  from: { readonly source: string; readonly via: 'webhook' | 'token' },
  input: SignalInput,
  actor: Actor,
): Promise<SignalReceipt> {
  const { source, via } = from;
  const at = deps.now();
  let resolved: Resolved;
  try {
    resolved = await resolveSubject(deps, input.subject, input.incidentId);
  } catch (err) {
    if (err instanceof BrokerError && (err.code === 'ERR_SIGNAL_SUBJECT_UNKNOWN' || err.code === 'ERR_INCIDENT_NOT_FOUND')) {
      deps.metrics.deviationSignals.inc({ via, outcome: 'unresolved' });
      // Counted per source and kind of subject: a misconfigured rule may send thousands.
      const data = {
        source,
        signalId: input.id,
        kind: input.kind,
        subjectFormat: input.subject.format,
        subject: shownSubject(input.subject),
      };
      await deps.audit.recordRepeated(
        { at, type: 'deviation.signal_unresolved', actor: actor.id, reason: err.code, data: { ...data, ...provenanceOf(actor) } },
        JSON.stringify(['deviation.signal_unresolved', source, input.subject.format, err.code]),
        { source, subjectFormat: input.subject.format },
      );
    }
    throw err;
  }
  const signal: Signal = {
    id: input.id,
    source,
    kind: input.kind,
    severity: input.severity,
    subject: input.subject,
    ...resolved,
    ...(input.summary === undefined ? {} : { summary: input.summary }),
    evidence: input.evidence ?? [],
    ...(input.observedAt === undefined ? {} : { observedAt: input.observedAt }),
    receivedAt: at,
    detector: false,
  };
  const recorded = await raiseSignal(deps, signal);
  deps.metrics.deviationSignals.inc({ via, outcome: recorded === 'recorded' ? 'accepted' : 'duplicate' });
  return { status: recorded === 'recorded' ? 'accepted' : 'duplicate', signal };
}
