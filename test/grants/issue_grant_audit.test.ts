/**
 * A grant whose issuance cannot be audited is not delivered, and does not stay behind: the
 * committed grant is queued for revocation (reason `undelivered`) and the worker ends it, so no
 * active grant (introspecting active) is left for a credential nobody holds. The audit port fails
 * here the way a store outage makes it fail; everything else is the composed broker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../src/audit/audit_log.js';
import { composeBroker, type ComposedBroker } from '../../src/compose.js';
import { storeUnavailable } from '../../src/errors.js';
import { issueGrant } from '../../src/grants/issue_grant.js';
import type { AgentIdentity } from '../../src/identity/types.js';
import { openIncident } from '../../src/incidents/open_incident.js';
import { createLogger } from '../../src/logging.js';
import { createLogCapture } from '../support/log_capture.js';
import { testConfig } from '../support/test_config.js';

const AGENT: AgentIdentity = {
  kind: 'agent',
  id: 'spiffe://dev.local/agent/triage',
  issuer: 'https://dev.quartermaster.local/agents',
  issuerName: 'dev.local',
  subject: 'spiffe://dev.local/agent/triage',
  expiresAt: Date.now() + 600_000,
  acceptedUntil: Date.now() + 630_000,
  fingerprint: 'fp',
  tokenId: 'tid',
};

let broker: ComposedBroker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

/** The broker's own audit log, except that appends of `failing` types throw as a down store does. */
function auditFailingOn(audit: AuditLog, failing: string): AuditLog {
  return {
    ...audit,
    async record(event, options) {
      if (event.type === failing) throw storeUnavailable(new Error('audit append failed'));
      return audit.record(event, options);
    },
  };
}

describe('issuing when the audit append fails', () => {
  it('delivers and keeps the grant when the audit append succeeds', async () => {
    broker = await composeBroker(testConfig().config, {
      logger: createLogger({ level: 'silent' }),
      runWorker: false,
      processMetrics: false,
    });
    const { deps } = broker;
    await openIncident(deps, { id: 'INC-A', title: 't', severity: 'sev3', source: 'api', actor: 'alice' });
    const issued = await issueGrant(deps, AGENT, { incidentId: 'INC-A', profile: 'demo', purpose: 'p' });
    if (issued.status !== 'issued') throw new Error('expected an issued grant');
    expect(issued.credential.access_token).toEqual(expect.any(String));
    expect((await deps.store.getGrant(issued.grant.id))?.state).toBe('active');
  });

  it('refuses with 503, and queues the committed grant for revocation, which the worker carries out', async () => {
    const logs = createLogCapture();
    broker = await composeBroker(testConfig().config, {
      logger: createLogger({ level: 'warn', destination: logs }),
      runWorker: false,
      processMetrics: false,
    });
    const deps = { ...broker.deps, audit: auditFailingOn(broker.deps.audit, 'grant.issued') };
    await openIncident(deps, { id: 'INC-B', title: 't', severity: 'sev3', source: 'api', actor: 'alice' });

    await expect(issueGrant(deps, AGENT, { incidentId: 'INC-B', profile: 'demo', purpose: 'p' })).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
      status: 503,
    });
    const [grant] = await deps.store.listGrantsByIncident('INC-B');
    expect(grant).toMatchObject({ state: 'revoking', revokeReason: 'undelivered' });
    expect(await deps.store.revocationQueueDepth()).toBe(1);
    expect(await broker.worker.runOnce()).toBe(1);
    expect((await deps.store.getGrant(grant!.id))?.state).toBe('revoked');
    // The refusal itself is audited as a failure, the grant's end as a revocation.
    const types = (await deps.audit.list({ incidentId: 'INC-B', limit: 10 })).map((e) => e.type);
    expect(types).toEqual(['incident.opened', 'grant.failed', 'grant.revoked']);
  });
});
