/**
 * Providers' incident records (sdk.ts IncidentRecords) over the store: one namespace per provider,
 * and "ended" read from the ledger, so a provider learns which incidents closed (or vanished)
 * without reading the store itself.
 */
import type { IncidentRecords } from './sdk.js';
import type { Store } from './store/store.js';

export function createIncidentRecords(
  store: Pick<Store, 'addIncidentRecord' | 'listIncidentRecords' | 'removeIncidentRecords' | 'getIncident'>,
  namespace: string,
): IncidentRecords {
  return {
    add: (incidentId, value) => store.addIncidentRecord(namespace, incidentId, value),
    async of(incidentId) {
      const [set] = await store.listIncidentRecords(namespace, incidentId);
      return set?.values ?? [];
    },
    async ofEndedIncidents() {
      const sets = await store.listIncidentRecords(namespace);
      const ended = await Promise.all(
        sets.map(async (set) => {
          const incident = await store.getIncident(set.incidentId);
          return incident === null || incident.status === 'closed';
        }),
      );
      return sets.filter((_, i) => ended[i]);
    },
    remove: (incidentId, values) => store.removeIncidentRecords(namespace, incidentId, values),
  };
}
