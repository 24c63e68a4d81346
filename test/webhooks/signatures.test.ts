/**
 * The webhook signature corpus (docs/security.md §2) as table tests over the verifiers: each row
 * first valid, then one thing changed, with the status it must answer (400 malformed, 401 not
 * verified). The Standard Webhooks known-answer vector is included, and the verifier is shown to
 * agree with the `standardwebhooks` package (the reference implementation) both ways.
 */
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { isBrokerError } from '../../src/errors.js';
import { standardWebhookKey, verifyPagerDutySignature, verifyStandardWebhook } from '../../src/webhooks/signatures.js';

/** The status a verifier answers: 200 when it accepts. */
function statusOf(check: () => unknown): number {
  try {
    check();
    return 200;
  } catch (err) {
    if (isBrokerError(err)) return err.status;
    throw err;
  }
}

describe('PagerDuty v3 signatures', () => {
  const secret = 'pd-secret-ChangeMe-0123456789';
  const next = 'pd-secret-next-9876543210';
  const body = Buffer.from('{"event":{"id":"01DEN4HPBQAJ7VPQ6LUCP7XNW9","event_type":"incident.resolved"}}');
  const hex = (key: string, bytes: Buffer = body): string => createHmac('sha256', key).update(bytes).digest('hex');
  const valid = `v1=${hex(secret)}`;
  const rows: Array<[string, Buffer, string | undefined, readonly string[], number]> = [
    ['valid', body, valid, [secret], 200],
    ['a changed byte', Buffer.from(body.toString().replace('resolved', 'resolvee')), valid, [secret], 401],
    ['the same JSON re-serialised', Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1)), valid, [secret], 401],
    ['no header', body, undefined, [secret], 400],
    ['an empty header', body, '', [secret], 400],
    ['no version', body, hex(secret), [secret], 400],
    ['not hex', body, `v1=${hex(secret).replace(/^../u, 'zz')}`, [secret], 400],
    ['an odd number of hex digits', body, `v1=${hex(secret).slice(1)}`, [secret], 400],
    ['uppercase hex (the same bytes)', body, `v1=${hex(secret).toUpperCase()}`, [secret], 200],
    ['several signatures, one valid', body, `v1=${hex('wrong')},v1=${hex(secret)}`, [secret], 200],
    ['several signatures, none valid', body, `v1=${hex('wrong')}, v1=${hex('also wrong')}`, [secret], 401],
    ['the wrong length', body, `v1=${hex(secret).slice(0, 32)}`, [secret], 401],
    ['only a later version', body, `v2=${hex(secret)}`, [secret], 400],
    ['a later version beside a valid v1', body, `v2=abcd,${valid}`, [secret], 200],
    ['rotation: signed with the next secret while both are configured', body, `v1=${hex(next)}`, [secret, next], 200],
    ['rotation: signed with a secret no longer configured', body, valid, [next], 401],
  ];
  it.each(rows)('%s', (_name, bytes, header, secrets, status) => {
    expect(statusOf(() => verifyPagerDutySignature(bytes, header, secrets))).toBe(status);
  });
});

describe('Standard Webhooks signatures (incident.io, generic)', () => {
  // The known-answer vector of docs/security.md §2 (from the Standard Webhooks reference tests).
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const timestamp = '1614265330';
  const body = Buffer.from('{"test": 2432232314}');
  const signature = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
  const now = Number(timestamp) * 1000;
  const key = standardWebhookKey(secret);
  const other = standardWebhookKey('whsec_dGhlIG5leHQgc2VjcmV0LCByb3RhdGVkIGlu');
  const sign = (k: Buffer, msgId = id, ts = timestamp, bytes = body): string =>
    `v1,${createHmac('sha256', k).update(`${msgId}.${ts}.`).update(bytes).digest('base64')}`;
  const check = (headers: { id?: string; timestamp?: string; signature?: string }, bytes = body, keys = [key], at = now) =>
    statusOf(() =>
      verifyStandardWebhook(bytes, { id: headers.id, timestamp: headers.timestamp, signature: headers.signature }, keys, at, 300),
    );
  const h = { id, timestamp, signature };

  it('accepts the known-answer vector, and computes its signature', () => {
    expect(sign(key)).toBe(signature);
    expect(check(h)).toBe(200);
  });

  const rows: Array<[string, Parameters<typeof check>, number]> = [
    ['a changed byte', [h, Buffer.from('{"test": 2432232315}')], 401],
    ['the same JSON re-serialised', [h, Buffer.from(JSON.stringify(JSON.parse(body.toString())))], 401],
    ['another delivery id', [{ ...h, id: 'msg_other' }], 401],
    ['no webhook-id', [{ timestamp, signature }], 400],
    ['no webhook-timestamp', [{ id, signature }], 400],
    ['no webhook-signature', [{ id, timestamp }], 400],
    ['a fractional timestamp', [{ ...h, timestamp: '1614265330.0' }], 400],
    ['a negative timestamp', [{ ...h, timestamp: '-1614265330' }], 400],
    ['a timestamp with spaces', [{ ...h, timestamp: ' 1614265330' }], 400],
    ['a timestamp in words', [{ ...h, timestamp: 'yesterday' }], 400],
    ['a timestamp in milliseconds (13 digits: not seconds)', [{ ...h, timestamp: '1614265330000' }], 400],
    ['a timestamp of seconds far away', [{ ...h, timestamp: '9999999999' }], 401],
    ['301 s in the future', [h, body, [key], now - 301_000], 401],
    ['301 s in the past', [h, body, [key], now + 301_000], 401],
    ['300 s in the past (at the edge)', [h, body, [key], now + 300_000], 200],
    ['a signature without version', [{ ...h, signature: signature.slice(3) }], 400],
    ['a signature that is not base64', [{ ...h, signature: 'v1,!!!!' }], 400],
    ['several signatures, the valid one last', [{ ...h, signature: `${sign(other)} ${signature}` }], 200],
    ['several signatures, none valid', [{ ...h, signature: `${sign(other)} ${sign(other, 'x')}` }], 401],
    ['only the asymmetric version', [{ ...h, signature: 'v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' }], 400],
    ['the wrong length', [{ ...h, signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJE' }], 401],
    ['rotation: signed with the next key while both are configured', [{ ...h, signature: sign(other) }, body, [key, other]], 200],
    ['rotation: signed with a key no longer configured', [h, body, [other]], 401],
  ];
  it.each(rows)('%s', (_name, args, status) => {
    // The valid case of each row passes first.
    expect(check(h)).toBe(200);
    expect(check(...args)).toBe(status);
  });

  it('agrees with the standardwebhooks package: what it signs verifies here, and what verifies here it accepts', () => {
    const wh = new Webhook(secret);
    for (let i = 0; i < 20; i++) {
      const msgId = `msg_${i}`;
      const at = new Date(now + i * 1000);
      const payload = JSON.stringify({ i, text: 'é✓ "quoted"', nested: { list: [i, null, true] } });
      const signed = wh.sign(msgId, at, payload);
      const ts = String(Math.floor(at.getTime() / 1000));
      expect(check({ id: msgId, timestamp: ts, signature: signed }, Buffer.from(payload), [key], at.getTime())).toBe(200);
      expect(signed).toBe(sign(key, msgId, ts, Buffer.from(payload)));
    }
    // The package checks against the real clock: a fresh timestamp for both.
    const fresh = String(Math.floor(Date.now() / 1000));
    const headers = { 'webhook-id': id, 'webhook-timestamp': fresh, 'webhook-signature': sign(key, id, fresh) };
    expect(check({ id, timestamp: fresh, signature: headers['webhook-signature'] }, body, [key], Date.now())).toBe(200);
    expect(() => wh.verify(body.toString(), headers)).not.toThrow();
    // And both refuse a changed byte.
    expect(() => wh.verify('{"test": 2432232315}', headers)).toThrow();
    expect(
      check({ id, timestamp: fresh, signature: headers['webhook-signature'] }, Buffer.from('{"test": 2432232315}'), [key], Date.now()),
    ).toBe(401);
  });

  it('reads a secret with or without its whsec_ prefix, and refuses one that is not base64', () => {
    expect(standardWebhookKey('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').equals(key)).toBe(true);
    expect(() => standardWebhookKey('whsec_not base64!')).toThrow(/whsec_/u);
  });
});
