/**
 * `quartermaster audit verify <export.ndjson> --keys <jwks.json>` checks an audit export offline
 * (audit/verify.ts): every event against the hash chain, every checkpoint against the public
 * keys only, and names the first bad event. `quartermaster audit keygen` writes a new Ed25519
 * checkpoint key (audit.chain.keyFile) and prints its public JWK.
 */
import { readFileSync } from 'node:fs';
import { generateCheckpointJwk, publicKeysFromJson } from '../audit/checkpoints.js';
import { verifyExport } from '../audit/verify.js';
import { publishExclusive } from '../key_files.js';
import { CliRefusal, command, parseOptions } from './cli_support.js';
import { EXIT_FAILURE, EXIT_OK } from './command.js';

const readText = (file: string, what: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliRefusal(`${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
};

export const auditVerifyCommand = command({
  words: ['audit', 'verify'],
  summary: 'verify an audit export (NDJSON) offline against the hash chain and the signed checkpoints',
  usage: `Usage: quartermaster audit verify <export.ndjson> --keys <jwks.json> [--checkpoint <jws>]…

Checks an export of GET /v1/audit/export with only the checkpoint public keys (GET
/v1/audit/keys, or the key file's public JWK): each event must follow the one before it (seq by
seq) and match its chain link, and the chain must reach every signed checkpoint. Names the first
bad event: modified, missing, out of order (reordered or inserted), truncated, or a checkpoint
that does not verify. --checkpoint adds a checkpoint held apart from the file (the latest one,
fetched separately), so a file cut before it is caught as truncated.

Prints one JSON line; exit 0 when the export verifies, 1 when it does not.
`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { keys: { type: 'string' }, checkpoint: { type: 'string', multiple: true } }, true);
    if (positionals.length !== 1) throw new CliRefusal('give exactly one export file', true);
    if (values.keys === undefined)
      throw new CliRefusal('--keys <jwks.json> is required: the checkpoints are checked with the public keys', true);
    let keys;
    try {
      keys = await publicKeysFromJson(readText(values.keys, 'key file'), values.keys);
    } catch (err) {
      throw new CliRefusal(err instanceof Error ? err.message : String(err));
    }
    const verdict = await verifyExport(readText(positionals[0] as string, 'export'), keys, { extraCheckpoints: values.checkpoint ?? [] });
    io.stdout(
      `${JSON.stringify({
        ok: verdict.ok,
        events: verdict.events,
        last_seq: verdict.lastSeq,
        sealed_through: verdict.sealedThrough,
        checkpoints_matched: verdict.checkpointsMatched,
        first_bad: verdict.firstBad ?? null,
      })}\n`,
    );
    if (verdict.firstBad)
      io.stderr(`first bad event: seq ${verdict.firstBad.seq} (${verdict.firstBad.problem}): ${verdict.firstBad.detail}\n`);
    else if (verdict.checkpointsMatched === 0)
      io.stderr('no signed checkpoint in the export: the chain is consistent, but nothing signed vouches for it\n');
    return verdict.ok ? EXIT_OK : EXIT_FAILURE;
  },
});

export const auditKeygenCommand = command({
  words: ['audit', 'keygen'],
  summary: 'write a new Ed25519 audit checkpoint key (audit.chain.keyFile) and print its public JWK',
  usage: `Usage: quartermaster audit keygen --out <file>

Writes a new Ed25519 private JWK to <file> (mode 0600; refuses to replace an existing file), for
audit.chain.keyFile, and prints its public JWK on stdout: keep it apart from the broker (with the
exports) to verify checkpoints offline.
`,
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { out: { type: 'string' } }, true);
    if (positionals.length > 0) throw new CliRefusal('no positional arguments', true);
    if (values.out === undefined) throw new CliRefusal('--out <file> is required', true);
    const text = generateCheckpointJwk();
    if (!(await publishExclusive(values.out, text, 0o600))) throw new CliRefusal(`${values.out} exists; not replaced`);
    const { kty, crv, x } = JSON.parse(text) as Record<string, string>;
    const [key] = await publicKeysFromJson(JSON.stringify({ kty, crv, x }), values.out);
    io.stdout(`${JSON.stringify(key?.jwk)}\n`);
    return EXIT_OK;
  },
});
