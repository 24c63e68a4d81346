/** The incident ledger in memory (store.ts IncidentLedger), over the shared state (memory_state.ts). */
import { isLive, isTerminal, type Grant, type Incident } from '../model.js';
import { byCreation, compareIds, copy, type MemoryState } from './memory_state.js';
import type { CloseIncidentResult, IncidentLedger } from './store.js';

/** All of the ledger but createGrantIntentAndRead, which memory_store.ts composes with the registers. */
export function createMemoryLedger(state: MemoryState): Omit<IncidentLedger, 'createGrantIntentAndRead'> {
  const { incidents, grants, idsByIncident, idsByAgent, grantsOf, enqueue } = state;
  /** A credential's subject → its grant's id (findGrantBySubject), until the grant is purged. */
  const bySubject = new Map<string, string>();
  return {
    async createIncident(incident) {
      const existing = incidents.get(incident.id);
      if (existing) return { created: false, incident: copy(existing) };
      incidents.set(incident.id, copy(incident));
      return { created: true, incident: copy(incident) };
    },

    async updateIncident(id, patch) {
      const incident = incidents.get(id);
      if (!incident) return null;
      if (incident.status !== 'open') return { incident: copy(incident), updated: false };
      const agents = patch.agents === undefined ? incident.agents : (patch.agents ?? undefined);
      const rest: Incident = { ...incident };
      delete (rest as { agents?: unknown }).agents;
      const updated: Incident = {
        ...rest,
        ...(agents === undefined ? {} : { agents: [...agents] }),
        ...(patch.severity === undefined ? {} : { severity: patch.severity }),
        ...(patch.title === undefined ? {} : { title: patch.title }),
        ...(patch.tierGranted === undefined || (incident.tiersGranted ?? []).includes(patch.tierGranted)
          ? {}
          : { tiersGranted: [...(incident.tiersGranted ?? []), patch.tierGranted] }),
        ...(patch.major === undefined ? {} : { major: { ...patch.major } }),
      };
      if (patch.endMajorEndingAt !== undefined && updated.major?.endsAt === patch.endMajorEndingAt) {
        delete (updated as { major?: unknown }).major;
      }
      incidents.set(id, updated);
      return { incident: copy(updated), updated: true };
    },

    async getIncident(id) {
      const incident = incidents.get(id);
      return incident ? copy(incident) : null;
    },

    async listIncidents(query) {
      return [...incidents.values()]
        .filter((i) => query.status === undefined || i.status === query.status)
        .sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .slice(0, Math.max(0, query.limit))
        .map(copy);
    },

    async closeIncident(id, closedAt, closedBy): Promise<CloseIncidentResult | null> {
      const incident = incidents.get(id);
      if (!incident) return null;
      const closedNow = incident.status !== 'closed';
      if (closedNow) incidents.set(id, { ...incident, status: 'closed', closedAt, closedBy });
      const revoking: string[] = [];
      for (const grant of grantsOf(id)) {
        if (isLive(grant)) {
          grants.set(grant.id, { ...grant, state: 'revoking', revokeReason: 'incident_closed', revokeRequestedAt: closedAt });
        }
        if (grants.get(grant.id)?.state === 'revoking') {
          revoking.push(grant.id);
          enqueue(grant.id, closedAt, 'close');
        }
      }
      return { incident: copy(incidents.get(id) as Incident), closedNow, revoking };
    },

    async createGrantIntent(grant, quota) {
      const incident = incidents.get(grant.incidentId);
      if (!incident) return 'incident_missing';
      if (incident.status !== 'open') return 'incident_closed';
      if (grants.has(grant.id)) throw new Error(`grant id ${JSON.stringify(grant.id)} already exists`);
      if (quota) {
        const live = (ids: readonly string[]): number =>
          ids.filter((id) => {
            const g = grants.get(id);
            return g !== undefined && !isTerminal(g) && g.expiresAt > quota.now;
          }).length;
        if (quota.perIncident > 0 && live(idsByIncident.get(grant.incidentId) ?? []) >= quota.perIncident) return 'quota_incident';
        if (quota.perAgent > 0 && live([...(idsByAgent.get(grant.agent)?.values() ?? [])].flat()) >= quota.perAgent) return 'quota_agent';
      }
      grants.set(grant.id, { ...copy(grant), state: 'issuing' });
      const ids = idsByIncident.get(grant.incidentId);
      if (ids) ids.push(grant.id);
      else idsByIncident.set(grant.incidentId, [grant.id]);
      const ofAgent = idsByAgent.get(grant.agent) ?? new Map<string, string[]>();
      idsByAgent.set(grant.agent, ofAgent);
      const agentIds = ofAgent.get(grant.incidentId);
      if (agentIds) agentIds.push(grant.id);
      else ofAgent.set(grant.incidentId, [grant.id]);
      return 'ok';
    },

    async commitGrant(id, input) {
      const grant = grants.get(id);
      if (!grant) return null;
      if (grant.state === 'issuing' || grant.state === 'revoking') {
        // A close that won the race keeps the grant revoking; the handle lets the worker revoke it.
        const state = grant.state === 'issuing' ? 'active' : 'revoking';
        const subjects = input.subjects ?? [];
        grants.set(id, {
          ...grant,
          state,
          handle: copy(input.handle),
          expiresAt: input.expiresAt,
          ...(subjects.length > 0 ? { subjects: [...subjects] } : {}),
        });
        for (const subject of subjects) bySubject.set(subject, id);
        if (state === 'revoking') enqueue(id, grant.revokeRequestedAt ?? 0, grant.revokeReason === 'incident_closed' ? 'close' : 'other');
      }
      return copy(grants.get(id) as Grant);
    },

    async failGrant(id, at, error) {
      const grant = grants.get(id);
      if (!grant) return null;
      if (grant.state === 'issuing') grants.set(id, { ...grant, state: 'failed', endedAt: at, lastError: error });
      return copy(grants.get(id) as Grant);
    },

    async findGrantBySubject(subject) {
      return bySubject.get(subject) ?? null;
    },

    async getGrant(id) {
      const grant = grants.get(id);
      return grant ? copy(grant) : null;
    },

    async listGrantsByIncident(incidentId) {
      return grantsOf(incidentId).sort(byCreation).map(copy);
    },

    async listGrantsByAgent(agentId, options) {
      const ofAgent = idsByAgent.get(agentId);
      if (!ofAgent) return [];
      const ids = options?.incidentId === undefined ? [...ofAgent.values()].flat() : (ofAgent.get(options.incidentId) ?? []);
      return ids
        .map((id) => grants.get(id) as Grant)
        .sort(byCreation)
        .map(copy);
    },

    async requestRevocation(id, reason, at) {
      const grant = grants.get(id);
      if (!grant) return null;
      if (isLive(grant)) {
        grants.set(id, { ...grant, state: 'revoking', revokeReason: reason, revokeRequestedAt: at });
      }
      if (grants.get(id)?.state === 'revoking') enqueue(id, at, grants.get(id)?.revokeReason === 'incident_closed' ? 'close' : 'other');
      return copy(grants.get(id) as Grant);
    },

    async expireGrants(now, limit) {
      const due = [...grants.values()]
        .filter((g) => g.state === 'active' && g.expiresAt <= now)
        .sort((a, b) => a.expiresAt - b.expiresAt || compareIds(a.id, b.id))
        .slice(0, Math.max(0, limit));
      for (const grant of due) grants.set(grant.id, { ...grant, state: 'expired', endedAt: grant.expiresAt });
      return due.map((g) => g.id);
    },

    async purgeEndedGrants(endedBefore, limit) {
      const due = [...grants.values()]
        .filter((g) => isTerminal(g) && g.endedAt !== undefined && g.endedAt <= endedBefore)
        .sort((a, b) => (a.endedAt as number) - (b.endedAt as number) || compareIds(a.id, b.id))
        .slice(0, Math.max(0, limit));
      for (const grant of due) {
        grants.delete(grant.id);
        for (const subject of grant.subjects ?? []) if (bySubject.get(subject) === grant.id) bySubject.delete(subject);
        const ofIncident = idsByIncident.get(grant.incidentId) ?? [];
        ofIncident.splice(ofIncident.indexOf(grant.id), 1);
        if (ofIncident.length === 0) idsByIncident.delete(grant.incidentId);
        const ofAgent = idsByAgent.get(grant.agent);
        const agentIds = ofAgent?.get(grant.incidentId) ?? [];
        agentIds.splice(agentIds.indexOf(grant.id), 1);
        if (ofAgent && agentIds.length === 0 && incidents.get(grant.incidentId)?.status === 'closed') {
          ofAgent.delete(grant.incidentId);
          if (ofAgent.size === 0) idsByAgent.delete(grant.agent);
        }
      }
      return due.length;
    },

    async countLiveGrants(incidentId, now) {
      return grantsOf(incidentId).filter((g) => !isTerminal(g) && g.expiresAt > now).length;
    },

    async listClosingIncidents() {
      const closing = new Set<string>();
      for (const grant of grants.values()) {
        if (grant.state === 'revoking' && incidents.get(grant.incidentId)?.status === 'closed') closing.add(grant.incidentId);
      }
      return [...closing];
    },
  };
}
