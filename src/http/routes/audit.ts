/**
 * Operator audit reads: `GET /v1/audit?incident=&after=&limit=`, and the hash chain's
 * (docs/audit.md): `GET /v1/audit/verify` walks the whole log against its links and signed
 * checkpoints and names the first bad event; `GET /v1/audit/export?after=` streams it as NDJSON
 * (events, links, checkpoints) for a SIEM or an offline `quartermaster audit verify`;
 * `GET /v1/audit/keys` serves the checkpoint public keys (JWKS); `GET /v1/audit/checkpoints`
 * lists the signed checkpoints.
 */
import { Router, type Response } from 'express';
import type { AuditChain } from '../../audit/audit_chain.js';
import { BrokerError, describeCause } from '../../errors.js';
import type { HttpDeps } from '../deps.js';
import { requirePermission } from '../steps/authenticate.js';
import { auditCheckpointsQuery, auditExportQuery, auditQuery, noQuery, parseWith } from '../validation.js';

function chainOf(deps: HttpDeps): AuditChain {
  if (deps.auditChain === null)
    throw new BrokerError('ERR_AUDIT_CHAIN_OFF', 404, 'the audit hash chain is off (audit.chain.enabled: false)');
  return deps.auditChain;
}

/** Writes the lines as they come; a store failure midway ends the stream without a last newline, so a reader sees a cut file. */
async function streamLines(res: Response, lines: AsyncIterable<string>, onError: (err: unknown) => void): Promise<void> {
  res.status(200).type('application/x-ndjson');
  try {
    for await (const line of lines) {
      if (!res.write(`${line}\n`)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  } catch (err) {
    onError(err);
    res.destroy();
  }
}

export function auditRoutes(deps: HttpDeps): Router {
  const router = Router();
  const read = requirePermission(deps, 'audit.read');
  router.get('/', read, async (req, res) => {
    const q = parseWith(auditQuery, req.query, 'query');
    const events = await deps.audit.list({
      limit: q.limit,
      ...(q.incident === undefined ? {} : { incidentId: q.incident }),
      ...(q.after === undefined ? {} : { afterSeq: q.after }),
    });
    const last = events.at(-1);
    res.json({
      events: events.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
      next_after: last ? last.seq : null,
    });
  });

  router.get('/verify', read, async (req, res) => {
    parseWith(noQuery, req.query, 'query');
    const verdict = await chainOf(deps).verify();
    res.json({
      ok: verdict.ok,
      events: verdict.events,
      last_seq: verdict.lastSeq,
      sealed_through: verdict.sealedThrough,
      unsealed: verdict.unsealed,
      checkpoints: verdict.checkpoints,
      checkpoints_matched: verdict.checkpointsMatched,
      first_bad: verdict.firstBad ?? null,
    });
  });

  router.get('/export', read, async (req, res) => {
    const q = parseWith(auditExportQuery, req.query, 'query');
    await streamLines(res, chainOf(deps).exportLines(q.after), (err) =>
      deps.logger.error({ err: describeCause(err) }, 'audit export cut short'),
    );
  });

  router.get('/keys', read, (req, res) => {
    parseWith(noQuery, req.query, 'query');
    res.json({ keys: chainOf(deps).publicKeys.map((k) => k.jwk) });
  });

  router.get('/checkpoints', read, async (req, res) => {
    const q = parseWith(auditCheckpointsQuery, req.query, 'query');
    const checkpoints = await chainOf(deps).checkpoints(q.after, q.limit);
    res.json({ checkpoints, next_after: checkpoints.at(-1)?.seq ?? null });
  });
  return router;
}
