/** The explicit list of incident sources (src/incident_sources/index.ts). */
import { describe, expect, it } from 'vitest';
import { incidentSources } from '../src/incident_sources/index.js';
import { WEBHOOK_SOURCES } from '../src/webhooks/receive.js';

describe('incident sources', () => {
  it('lists each source once, the operator API among them', () => {
    const names = incidentSources.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('api');
  });

  it('lists every webhook source, as authenticated by its signature', () => {
    for (const source of WEBHOOK_SOURCES) {
      expect(incidentSources.find((s) => s.name === source)?.authenticatedBy).toBe('webhook_signature');
    }
  });
});
