/**
 * The incident-tool webhook mappers (src/webhooks/sources/) over the sample payloads in
 * test/fixtures/webhooks/ (their provenance: its README.md): every fixture maps to the event or the
 * ignore stated here, and a fixture with one field broken fails with WebhookPayloadError naming it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WebhookPayloadError, type IncidentEvent, type MappedEvent } from '../../src/webhooks/sources/event.js';
import { genericWebhookPayload, mapGenericEvent } from '../../src/webhooks/sources/generic.js';
import { incidentIoSeverity, mapIncidentIoEvent, type IncidentIoDelivery } from '../../src/webhooks/sources/incidentio.js';
import { pagerDutySeverity, mapPagerDutyEvent } from '../../src/webhooks/sources/pagerduty.js';
import { parseRfc3339 } from '../../src/webhooks/sources/parse.js';

type Source = 'pagerduty' | 'incidentio' | 'generic';

const FIXTURES = new URL('../fixtures/webhooks/', import.meta.url);
const load = (source: Source, file: string): any => JSON.parse(readFileSync(new URL(`${source}/${file}`, FIXTURES), 'utf8'));

function map(source: Source, payload: unknown, delivery?: IncidentIoDelivery): MappedEvent {
  if (source === 'pagerduty') return mapPagerDutyEvent(payload);
  if (source === 'incidentio') return mapIncidentIoEvent(payload, delivery);
  return mapGenericEvent(payload);
}

const event = (e: IncidentEvent): MappedEvent => ({ kind: 'event', event: e });
const ignored = (reason: string): MappedEvent => ({ kind: 'ignored', reason });

interface Case {
  readonly source: Source;
  readonly file: string;
  readonly expected: MappedEvent;
  readonly delivery?: IncidentIoDelivery;
}

const PD_TEST = 'https://aldaviva.pagerduty.com/incidents/Q2CKYRLH85UNN4';
const PD_CHECKOUT = { sourceIncidentId: 'Q3B15VLMF3ASBD', title: 'Critical: Checkout API High Latency' } as const;
const PD_CHECKOUT_URL = 'https://harsh0303.pagerduty.com/incidents/Q3B15VLMF3ASBD';
const IIO = {
  source: 'incidentio',
  sourceIncidentId: '01FDAG4SAP5TYPT98WGR2N7W91',
  title: 'Our database is sad',
  url: 'https://app.incident.io/incidents/123',
} as const;
const IIO_DOCS_TIME = Date.UTC(2021, 7, 17, 13, 28, 57, 801); // 2021-08-17T13:28:57.801578Z, microseconds truncated
const DELIVERED = { attemptedAt: Date.UTC(2021, 7, 17, 13, 30, 0) };
const GENERIC = { source: 'generic', sourceIncidentId: 'checkout-latency-2024-05-01' } as const;

const CASES: readonly Case[] = [
  // PagerDuty: recorded deliveries (Aldaviva/PagerDuty, zulip/zulip) and the docs' examples.
  {
    source: 'pagerduty',
    file: 'incident_triggered.json',
    expected: event({
      source: 'pagerduty',
      sourceIncidentId: 'Q2CKYRLH85UNN4',
      kind: 'triggered',
      eventId: '01FKZSRAPTMF55RE69G8BQHGC6',
      occurredAt: Date.UTC(2025, 3, 7, 3, 47, 13, 414),
      title: 'Test',
      severity: 'sev4', // priority null, urgency low
      sourceStatus: 'triggered',
      url: PD_TEST,
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_acknowledged.json',
    expected: event({
      source: 'pagerduty',
      sourceIncidentId: 'Q2CKYRLH85UNN4',
      kind: 'acknowledged',
      eventId: '01FKZSRAQJLP9S3OPM2VALGUPJ',
      occurredAt: Date.UTC(2025, 3, 7, 3, 47, 13, 546),
      title: 'Test',
      severity: 'sev4',
      sourceStatus: 'acknowledged',
      url: PD_TEST,
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_unacknowledged.json',
    expected: event({
      source: 'pagerduty',
      sourceIncidentId: 'PQ1K5C8',
      kind: 'updated',
      eventId: '01BZYK5B3WC0QI62S87MJX7FCD',
      occurredAt: Date.UTC(2021, 5, 4, 13, 54, 23, 185),
      title: 'Test Incident',
      severity: 'sev2', // priority null, urgency high
      sourceStatus: 'triggered',
      url: 'https://pig208.pagerduty.com/incidents/PQ1K5C8',
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_escalated.json',
    expected: event({
      source: 'pagerduty',
      ...PD_CHECKOUT,
      kind: 'updated',
      eventId: '01GI0JWUU28G8XE5M6IIT4BZ39',
      occurredAt: Date.UTC(2026, 3, 1, 2, 8, 4, 642),
      severity: 'sev1', // P1
      sourceStatus: 'triggered',
      url: PD_CHECKOUT_URL,
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_priority_updated.json',
    expected: event({
      source: 'pagerduty',
      ...PD_CHECKOUT,
      kind: 'updated',
      eventId: '01GI0KJAEAC3CFEOFSC8BIJF3O',
      occurredAt: Date.UTC(2026, 3, 1, 2, 15, 36, 315),
      severity: 'sev2', // P2
      sourceStatus: 'triggered',
      url: PD_CHECKOUT_URL,
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_priority_updated_docs_example.json',
    expected: event({
      source: 'pagerduty',
      sourceIncidentId: 'PGR0VU2',
      kind: 'updated',
      eventId: '5ac64822-4adc-4fda-ade0-410becf0de4f',
      occurredAt: Date.UTC(2020, 9, 2, 18, 45, 22, 169),
      title: 'A little bump in the road',
      severity: 'sev1',
      sourceStatus: 'triggered',
      url: 'https://acme.pagerduty.com/incidents/PGR0VU2',
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_service_updated.json',
    expected: event({
      source: 'pagerduty',
      ...PD_CHECKOUT,
      kind: 'updated',
      eventId: '01GI0LMGIAVNHQJISNPO1RZRT5',
      occurredAt: Date.UTC(2026, 3, 1, 2, 28, 44, 634),
      severity: 'sev2',
      sourceStatus: 'triggered',
      url: PD_CHECKOUT_URL,
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_responder_added.json',
    expected: event({
      source: 'pagerduty',
      ...PD_CHECKOUT, // from data.incident.summary: a responder event carries no priority, urgency or status
      kind: 'updated',
      eventId: '01GI0KX4BFZXPEDNCS4USCAH22',
      occurredAt: Date.UTC(2026, 3, 1, 2, 20, 14, 737),
      url: PD_CHECKOUT_URL,
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_resolved.json',
    expected: event({
      source: 'pagerduty',
      sourceIncidentId: 'Q2CKYRLH85UNN4',
      kind: 'resolved',
      eventId: '01FKZSYE5HCMM576S6JUVIGLQT',
      occurredAt: Date.UTC(2025, 3, 7, 3, 49, 36, 358),
      title: 'Test',
      severity: 'sev4',
      sourceStatus: 'resolved',
      url: PD_TEST,
    }),
  },
  {
    source: 'pagerduty',
    file: 'incident_reopened.json',
    expected: event({
      source: 'pagerduty',
      sourceIncidentId: 'Q05XJA8GDXGOB3',
      kind: 'reopened',
      eventId: '01GI0KHLHVH4YZ44BJY1VLT6F2',
      occurredAt: Date.UTC(2026, 3, 1, 2, 15, 2, 274),
      title: 'Test Incident 2',
      severity: 'sev3', // P3 wins over urgency low
      sourceStatus: 'triggered',
      url: 'https://harsh0303.pagerduty.com/incidents/Q05XJA8GDXGOB3',
    }),
  },
  { source: 'pagerduty', file: 'pagey_ping.json', expected: ignored('pagey.ping: a PagerDuty test delivery (pagey.ping)') },
  { source: 'pagerduty', file: 'incident_annotated.json', expected: ignored('incident.annotated: a note was added to the incident') },
  {
    source: 'pagerduty',
    file: 'incident_status_update_published.json',
    expected: ignored('incident.status_update_published: a status update message was published; the incident did not change'),
  },
  { source: 'pagerduty', file: 'service_updated_docs_example.json', expected: ignored('service.updated: not an incident event') },

  // incident.io: the documented examples (its OpenAPI document) and status changes derived from them.
  {
    source: 'incidentio',
    file: 'public_incident_created_v2.json',
    expected: event({ ...IIO, kind: 'triggered', occurredAt: IIO_DOCS_TIME, severity: 'sev3', sourceStatus: 'Closed' }),
  },
  {
    source: 'incidentio',
    file: 'public_incident_updated_v2.json',
    expected: event({ ...IIO, kind: 'updated', occurredAt: IIO_DOCS_TIME, severity: 'sev3', sourceStatus: 'Closed' }),
  },
  {
    source: 'incidentio',
    file: 'public_incident_status_updated_v2.json', // the docs' example goes from triage to triage
    expected: event({ ...IIO, kind: 'updated', occurredAt: IIO_DOCS_TIME, severity: 'sev3', sourceStatus: 'Closed' }),
  },
  {
    source: 'incidentio',
    file: 'status_updated_triage_to_investigating.json',
    expected: event({
      ...IIO,
      kind: 'acknowledged',
      occurredAt: Date.UTC(2021, 7, 17, 13, 35, 2, 114),
      severity: 'sev2',
      sourceStatus: 'Investigating',
    }),
  },
  {
    source: 'incidentio',
    file: 'status_updated_investigating_to_fixing.json',
    expected: event({
      ...IIO,
      kind: 'updated',
      occurredAt: Date.UTC(2021, 7, 17, 13, 52, 40, 512),
      severity: 'sev1',
      sourceStatus: 'Fixing',
    }),
  },
  {
    source: 'incidentio',
    file: 'status_updated_fixing_to_closed.json',
    expected: event({
      ...IIO,
      kind: 'resolved',
      occurredAt: Date.UTC(2021, 7, 17, 14, 28, 57, 801),
      severity: 'sev1',
      sourceStatus: 'Closed',
    }),
  },
  {
    source: 'incidentio',
    file: 'status_updated_closed_to_investigating.json',
    expected: event({
      ...IIO,
      kind: 'reopened',
      occurredAt: Date.UTC(2021, 7, 17, 15, 2, 11),
      severity: 'sev1',
      sourceStatus: 'Investigating',
    }),
  },
  {
    source: 'incidentio',
    file: 'private_incident_created_v2.json',
    delivery: DELIVERED,
    expected: event({ source: 'incidentio', sourceIncidentId: 'abc123', kind: 'triggered', occurredAt: DELIVERED.attemptedAt }),
  },
  {
    source: 'incidentio',
    file: 'private_incident_updated_v2.json',
    delivery: DELIVERED,
    expected: event({ source: 'incidentio', sourceIncidentId: 'abc123', kind: 'updated', occurredAt: DELIVERED.attemptedAt }),
  },
  {
    source: 'incidentio',
    file: 'private_incident_membership_granted_v1.json',
    expected: ignored("private_incident.membership_granted_v1: someone's access to a private incident changed"),
  },
  {
    source: 'incidentio',
    file: 'public_incident_follow_up_created_v2.json',
    expected: ignored("public_incident.follow_up_created_v2: an incident's follow-up changed"),
  },
  {
    source: 'incidentio',
    file: 'public_alert_alert_created_v1.json',
    expected: ignored('public_alert.alert_created_v1: not an incident event'),
  },

  // Generic: one per kind.
  {
    source: 'generic',
    file: 'triggered.json',
    expected: event({
      ...GENERIC,
      kind: 'triggered',
      occurredAt: Date.UTC(2024, 4, 1, 12, 0, 0),
      title: 'Checkout API p99 latency above 2s',
      severity: 'sev2',
      url: 'https://status.example.com/incidents/checkout-latency-2024-05-01',
    }),
  },
  {
    source: 'generic',
    file: 'acknowledged.json',
    expected: event({ ...GENERIC, kind: 'acknowledged', occurredAt: Date.UTC(2024, 4, 1, 12, 3, 10, 250) }),
  },
  {
    source: 'generic',
    file: 'updated.json', // 14:20 at +02:00
    expected: event({
      ...GENERIC,
      kind: 'updated',
      occurredAt: Date.UTC(2024, 4, 1, 12, 20, 0),
      title: 'Checkout API p99 latency above 5s',
      severity: 'sev1',
    }),
  },
  {
    source: 'generic',
    file: 'resolved.json',
    expected: event({ ...GENERIC, kind: 'resolved', occurredAt: Date.UTC(2024, 4, 1, 13, 5, 0) }),
  },
  {
    source: 'generic',
    file: 'reopened.json', // 08:30 at -05:00
    expected: event({ ...GENERIC, kind: 'reopened', occurredAt: Date.UTC(2024, 4, 1, 13, 30, 0), severity: 'sev3' }),
  },
];

describe('every fixture maps as stated', () => {
  it.each(CASES.map((c) => [`${c.source}/${c.file}`, c] as const))('%s', (_name, c) => {
    expect(map(c.source, load(c.source, c.file), c.delivery)).toStrictEqual(c.expected);
  });

  it('lists every fixture file, so none goes unchecked', () => {
    for (const source of ['pagerduty', 'incidentio', 'generic'] as const) {
      const files = readdirSync(new URL(`${source}/`, FIXTURES)).filter((f) => f.endsWith('.json'));
      const listed = CASES.filter((c) => c.source === source).map((c) => c.file);
      expect([...files].sort()).toStrictEqual([...listed].sort());
    }
  });

  it("ignores a private incident's event when the delivery's time is not given", () => {
    expect(mapIncidentIoEvent(load('incidentio', 'private_incident_created_v2.json'))).toStrictEqual(
      ignored(
        "private_incident.incident_created_v2: a private incident's event carries only its id and no time; map it with the delivery's webhook-timestamp",
      ),
    );
  });
});

/** Maps the fixture as is (it must map), then changed by `change`, which must fail at `path`. */
function expectPayloadError(source: Source, file: string, path: string, change: (payload: any) => unknown): void {
  const original = load(source, file);
  expect(() => map(source, original, DELIVERED)).not.toThrow();
  const broken = structuredClone(original);
  const replaced = change(broken);
  const payload = replaced === undefined ? broken : replaced;
  let thrown: unknown;
  try {
    map(source, payload, DELIVERED);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(WebhookPayloadError);
  expect((thrown as WebhookPayloadError).path).toBe(path);
  expect((thrown as WebhookPayloadError).message.startsWith(path === '' ? 'payload:' : `${path}:`)).toBe(true);
}

describe('a payload that is not what PagerDuty sends is refused, naming the field', () => {
  const cases: readonly (readonly [string, string, string, (p: any) => unknown])[] = [
    ['the payload is not an object', 'incident_triggered.json', '', () => [1, 2]],
    ['the payload is null', 'incident_triggered.json', '', () => null],
    ['no event', 'incident_triggered.json', 'event', (p) => void delete p.event],
    ['no event type', 'incident_triggered.json', 'event.event_type', (p) => void delete p.event.event_type],
    ['an event type that is not a string', 'pagey_ping.json', 'event.event_type', (p) => void (p.event.event_type = 7)],
    ['no event id', 'incident_triggered.json', 'event.id', (p) => void delete p.event.id],
    ['no occurred_at', 'incident_resolved.json', 'event.occurred_at', (p) => void delete p.event.occurred_at],
    [
      'occurred_at without a zone',
      'incident_resolved.json',
      'event.occurred_at',
      (p) => void (p.event.occurred_at = '2025-04-07T03:49:36.358'),
    ],
    ['occurred_at with a space', 'incident_resolved.json', 'event.occurred_at', (p) => void (p.event.occurred_at = '2025-04-07 03:49:36Z')],
    [
      'occurred_at on a day that does not exist',
      'incident_resolved.json',
      'event.occurred_at',
      (p) => void (p.event.occurred_at = '2025-02-29T03:49:36Z'),
    ],
    ['occurred_at as epoch ms', 'incident_resolved.json', 'event.occurred_at', (p) => void (p.event.occurred_at = 1743997776358)],
    ['no data', 'incident_escalated.json', 'event.data', (p) => void delete p.event.data],
    ['no incident id', 'incident_escalated.json', 'event.data.id', (p) => void delete p.event.data.id],
    ['an incident id that is a number', 'incident_escalated.json', 'event.data.id', (p) => void (p.event.data.id = 42)],
    [
      'an incident id the broker cannot store',
      'incident_escalated.json',
      'event.data.id',
      (p) => void (p.event.data.id = '../Q3B15VLMF3ASBD'),
    ],
    ['data that is not an incident', 'incident_reopened.json', 'event.data.type', (p) => void (p.event.data.type = 'incident_note')],
    [
      'a link that is not http(s)',
      'incident_acknowledged.json',
      'event.data.html_url',
      (p) => void (p.event.data.html_url = 'javascript:alert(1)'),
    ],
    ['a title that is not a string', 'incident_triggered.json', 'event.data.title', (p) => void (p.event.data.title = ['Test'])],
    [
      'a priority summary that is not a string',
      'incident_priority_updated.json',
      'event.data.priority.summary',
      (p) => void (p.event.data.priority.summary = 2),
    ],
    [
      'a responder event without its incident',
      'incident_responder_added.json',
      'event.data.incident',
      (p) => void delete p.event.data.incident,
    ],
    [
      'a responder event without the incident id',
      'incident_responder_added.json',
      'event.data.incident.id',
      (p) => void delete p.event.data.incident.id,
    ],
  ];
  it.each(cases)('%s', (_name, file, path, change) => expectPayloadError('pagerduty', file, path, change));

  it('does not require of an ignored event what it does not read', () => {
    const ping = load('pagerduty', 'pagey_ping.json');
    delete ping.event.occurred_at;
    delete ping.event.data;
    expect(mapPagerDutyEvent(ping).kind).toBe('ignored');
  });

  it('ignores an incident event type it does not know yet, and other resources', () => {
    const later = load('pagerduty', 'incident_triggered.json');
    later.event.event_type = 'incident.something_new';
    expect(mapPagerDutyEvent(later)).toStrictEqual(ignored('incident.something_new: an incident event type the broker does not map'));
    later.event.event_type = 'constructor'; // not looked up on a prototype
    expect(mapPagerDutyEvent(later)).toStrictEqual(ignored('constructor: not an incident event'));
  });
});

describe('a payload that is not what incident.io sends is refused, naming the field', () => {
  const CREATED = 'public_incident.incident_created_v2';
  const STATUS = 'public_incident.incident_status_updated_v2';
  const cases: readonly (readonly [string, string, string, (p: any) => unknown])[] = [
    ['the payload is a string', 'public_incident_created_v2.json', '', () => 'public_incident.incident_created_v2'],
    ['no event type', 'public_incident_created_v2.json', 'event_type', (p) => void delete p.event_type],
    ['an event type that is not a string', 'public_alert_alert_created_v1.json', 'event_type', (p) => void (p.event_type = null)],
    ['no body under the event type', 'public_incident_created_v2.json', CREATED, (p) => void delete p[CREATED]],
    ['no incident id', 'public_incident_created_v2.json', `${CREATED}.id`, (p) => void delete p[CREATED].id],
    [
      'an incident id with a slash',
      'public_incident_updated_v2.json',
      'public_incident.incident_updated_v2.id',
      (p) => void (p['public_incident.incident_updated_v2'].id = 'a/b'),
    ],
    ['no name', 'public_incident_created_v2.json', `${CREATED}.name`, (p) => void delete p[CREATED].name],
    [
      'no status category',
      'public_incident_created_v2.json',
      `${CREATED}.incident_status.category`,
      (p) => void delete p[CREATED].incident_status.category,
    ],
    [
      'updated_at that is not a time',
      'public_incident_created_v2.json',
      `${CREATED}.updated_at`,
      (p) => void (p[CREATED].updated_at = 'yesterday'),
    ],
    [
      'updated_at without a zone',
      'public_incident_created_v2.json',
      `${CREATED}.updated_at`,
      (p) => void (p[CREATED].updated_at = '2021-08-17T13:28:57.801578'),
    ],
    [
      'a severity without a name',
      'public_incident_created_v2.json',
      `${CREATED}.severity.name`,
      (p) => void delete p[CREATED].severity.name,
    ],
    [
      'a permalink that is not http(s)',
      'public_incident_created_v2.json',
      `${CREATED}.permalink`,
      (p) => void (p[CREATED].permalink = 'file:///etc/passwd'),
    ],
    [
      'a status change without its new status',
      'status_updated_fixing_to_closed.json',
      `${STATUS}.new_status`,
      (p) => void delete p[STATUS].new_status,
    ],
    [
      'a status change without its previous status',
      'status_updated_closed_to_investigating.json',
      `${STATUS}.previous_status.category`,
      (p) => void delete p[STATUS].previous_status.category,
    ],
    [
      'a status change without its incident',
      'status_updated_triage_to_investigating.json',
      `${STATUS}.incident`,
      (p) => void delete p[STATUS].incident,
    ],
    [
      'a private incident without its id',
      'private_incident_created_v2.json',
      'private_incident.incident_created_v2.id',
      (p) => void delete p['private_incident.incident_created_v2'].id,
    ],
  ];
  it.each(cases)('%s', (_name, file, path, change) => expectPayloadError('incidentio', file, path, change));

  it('ignores incidents that are not real: retrospective, test, tutorial', () => {
    for (const mode of ['retrospective', 'test', 'tutorial']) {
      const payload = load('incidentio', 'public_incident_created_v2.json');
      payload[CREATED].mode = mode;
      expect(mapIncidentIoEvent(payload)).toStrictEqual(ignored(`${CREATED}: a ${mode} incident, not a real one`));
    }
  });

  it('ignores an incident created already finished, and resolves one updated while finished', () => {
    const created = load('incidentio', 'public_incident_created_v2.json');
    created[CREATED].incident_status.category = 'closed';
    expect(mapIncidentIoEvent(created)).toStrictEqual(ignored(`${CREATED}: created already finished (closed)`));
    const updated = load('incidentio', 'public_incident_updated_v2.json');
    updated['public_incident.incident_updated_v2'].incident_status.category = 'learning';
    expect(mapIncidentIoEvent(updated)).toMatchObject({ kind: 'event', event: { kind: 'resolved' } });
  });

  it('maps every status category change as documented in incidentio.ts', () => {
    const kindOf = (previous: string, next: string) => {
      const payload = load('incidentio', 'status_updated_investigating_to_fixing.json');
      payload[STATUS].previous_status.category = previous;
      payload[STATUS].new_status.category = next;
      const result = mapIncidentIoEvent(payload);
      return result.kind === 'event' ? result.event.kind : result.kind;
    };
    expect(kindOf('triage', 'live')).toBe('acknowledged');
    expect(kindOf('triage', 'paused')).toBe('acknowledged');
    expect(kindOf('triage', 'triage')).toBe('updated');
    expect(kindOf('live', 'paused')).toBe('updated');
    expect(kindOf('paused', 'live')).toBe('updated');
    for (const finished of ['learning', 'closed', 'declined', 'merged', 'canceled']) {
      expect(kindOf('live', finished)).toBe('resolved');
      expect(kindOf('triage', finished)).toBe('resolved');
      expect(kindOf(finished, 'live')).toBe('reopened');
      expect(kindOf(finished, 'triage')).toBe('reopened');
    }
    expect(kindOf('learning', 'closed')).toBe('resolved');
    expect(kindOf('live', 'someday')).toBe('updated'); // an unknown category neither closes nor reopens
    expect(kindOf('closed', 'someday')).toBe('updated');
    expect(kindOf('someday', 'live')).toBe('updated');
    expect(kindOf('someday', 'closed')).toBe('resolved');
  });
});

describe('a generic payload that does not fit its schema is refused, naming the field', () => {
  const cases: readonly (readonly [string, string, string, (p: any) => unknown])[] = [
    ['the payload is an array', 'triggered.json', '', () => []],
    ['an unknown field', 'triggered.json', 'status', (p) => void (p.status = 'open')],
    ['no incident_id', 'triggered.json', 'incident_id', (p) => void delete p.incident_id],
    ['an incident_id with a space', 'triggered.json', 'incident_id', (p) => void (p.incident_id = 'checkout latency')],
    ['no event', 'resolved.json', 'event', (p) => void delete p.event],
    ['an event that is not a kind', 'resolved.json', 'event', (p) => void (p.event = 'closed')],
    ['no occurred_at', 'acknowledged.json', 'occurred_at', (p) => void delete p.occurred_at],
    ['occurred_at without a zone', 'acknowledged.json', 'occurred_at', (p) => void (p.occurred_at = '2024-05-01T12:03:10')],
    ['occurred_at as a date only', 'acknowledged.json', 'occurred_at', (p) => void (p.occurred_at = '2024-05-01')],
    ['occurred_at with an hour 24', 'acknowledged.json', 'occurred_at', (p) => void (p.occurred_at = '2024-05-01T24:00:00Z')],
    ['an empty title', 'updated.json', 'title', (p) => void (p.title = '')],
    ['a title with a control character', 'updated.json', 'title', (p) => void (p.title = 'latency\u001b[31m')],
    ['a title with a bidi override', 'updated.json', 'title', (p) => void (p.title = 'latency \u202e')],
    ['a title too long', 'updated.json', 'title', (p) => void (p.title = 'x'.repeat(501))],
    ['a severity that is not sev1-sev5', 'reopened.json', 'severity', (p) => void (p.severity = 'SEV1')],
    ['a url that is not http(s)', 'triggered.json', 'url', (p) => void (p.url = 'ftp://status.example.com/x')],
  ];
  it.each(cases)('%s', (_name, file, path, change) => expectPayloadError('generic', file, path, change));

  it('exports the schema the docs describe', () => {
    expect(Object.keys(genericWebhookPayload.shape).sort()).toStrictEqual([
      'event',
      'incident_id',
      'occurred_at',
      'severity',
      'title',
      'url',
    ]);
  });
});

describe('severity mappings', () => {
  it('PagerDuty: priority P1-P5, else urgency high/low', () => {
    expect(['P1', 'P2', 'P3', 'P4', 'P5'].map((p) => pagerDutySeverity(p, 'low'))).toStrictEqual(['sev1', 'sev2', 'sev3', 'sev4', 'sev5']);
    expect(pagerDutySeverity(null, 'high')).toBe('sev2');
    expect(pagerDutySeverity(undefined, 'low')).toBe('sev4');
    expect(pagerDutySeverity('Critical', 'high')).toBe('sev2'); // a custom priority name falls back to urgency
    expect(pagerDutySeverity('P6', undefined)).toBeUndefined();
    expect(pagerDutySeverity(null, 'medium')).toBeUndefined();
  });

  it('incident.io: by name, never by rank', () => {
    expect(['Critical', 'Major', 'Minor'].map(incidentIoSeverity)).toStrictEqual(['sev1', 'sev2', 'sev3']);
    expect(['SEV1', 'Sev 2', 'sev-3', 'P4', 'sev_5'].map(incidentIoSeverity)).toStrictEqual(['sev1', 'sev2', 'sev3', 'sev4', 'sev5']);
    expect(incidentIoSeverity('Low')).toBeUndefined();
    expect(incidentIoSeverity('SEV0')).toBeUndefined();
    expect(incidentIoSeverity(undefined)).toBeUndefined();
  });

  it('incident.io: an incident without a severity maps without one', () => {
    const payload = load('incidentio', 'public_incident_created_v2.json');
    delete payload['public_incident.incident_created_v2'].severity;
    const result = mapIncidentIoEvent(payload);
    expect(result.kind === 'event' && 'severity' in result.event).toBe(false);
  });
});

describe('RFC 3339 times', () => {
  it('reads zones, fractions and leap days', () => {
    expect(parseRfc3339('2024-05-01T12:00:00Z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseRfc3339('2024-05-01t12:00:00z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseRfc3339('2024-05-01T14:00:00+02:00')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseRfc3339('2024-05-01T07:30:00-04:30')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseRfc3339('2024-05-01T12:00:00.5Z')).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 500));
    expect(parseRfc3339('2021-08-17T13:28:57.801578Z')).toBe(Date.UTC(2021, 7, 17, 13, 28, 57, 801));
    expect(parseRfc3339('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseRfc3339('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29));
    expect(parseRfc3339('0099-01-01T00:00:00Z')).toBe(new Date('0099-01-01T00:00:00Z').getTime());
  });

  it('refuses anything else', () => {
    for (const text of [
      '',
      '2024-05-01',
      '2024-05-01T12:00:00',
      '2024-05-01T12:00Z',
      '2024-05-01 12:00:00Z',
      '2024-05-01T12:00:00+0200',
      '2024-05-01T12:00:00+24:00',
      '2024-05-01T12:00:00.Z',
      '2023-02-29T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2024-04-31T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-00-01T00:00:00Z',
      '2024-05-01T12:60:00Z',
      '2016-12-31T23:59:60Z',
      ' 2024-05-01T12:00:00Z',
      '2024-05-01T12:00:00Z\n',
      '+2024-05-01T12:00:00Z',
    ]) {
      expect(parseRfc3339(text), text).toBeUndefined();
    }
  });
});
