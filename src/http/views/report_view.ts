/**
 * The post-incident report as JSON (GET /v1/incidents/:id/report): the report's fields in the
 * API's snake_case, its instants (`…At`) as ISO 8601 strings.
 */
import type { IncidentReport } from '../../incidents/incident_report.js';

const snake = (key: string): string => key.replace(/[A-Z]/gu, (c) => `_${c.toLowerCase()}`);

function convert(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => convert(v));
  if (typeof value === 'number' && /At$/u.test(key)) return new Date(value).toISOString();
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), convert(v, k)]));
}

export const toReportView = (report: IncidentReport): unknown => convert(report);
