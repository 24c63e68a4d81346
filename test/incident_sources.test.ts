/** The explicit list of incident sources (src/incident_sources/index.ts). */
import { describe, expect, it } from 'vitest';
import { incidentSources } from '../src/incident_sources/index.js';

describe('incident sources', () => {
  it('lists each source once, the operator API among them', () => {
    const names = incidentSources.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('api');
  });
});
