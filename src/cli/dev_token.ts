/**
 * `quartermaster dev token`: mints a token from the local development issuer and prints only the
 * token and a newline on stdout, so `TOKEN=$(npm run -s cli -- dev token --agent …)` works.
 * Refused unless the config is in development mode with `devIssuer` set: the dev keys sit on
 * disk and must never vouch for anyone in production (config validation refuses devIssuer there
 * too). The token is checked against the same config the broker verifies with, so a token this
 * prints is one the broker accepts.
 */
import type { Config } from '../config/schema.js';
import { ensureDevKeys, mintAgentToken, mintOperatorToken } from '../identity/dev_issuer.js';
import { parseSpiffeId } from '../identity/spiffe_id.js';
import { hasUnsafeCharacters } from '../logging.js';
import { CliRefusal as Refusal, command, loadCliConfig, parseOptions } from './cli_support.js';
import { EXIT_OK, type CliIo } from './command.js';

const DEFAULT_AGENT_TTL_SECONDS = 600;
const DEFAULT_OPERATOR_TTL_SECONDS = 3600;

const USAGE = `Usage: quartermaster dev token (--agent <spiffe-id> | --introspection-client <spiffe-id> | --operator <subject>)
                              [--ttl <seconds>] [--config <file>]

Mints a development token signed by the local dev issuer and prints it on stdout.
Development mode only: the config must have mode: development and a devIssuer section.

Options:
  --agent <id>       agent JWT-SVID for this SPIFFE ID (spiffe://trust-domain/path) in a
                     trust domain of identity.agents.spiffe
  --introspection-client <id>
                     a resource server's JWT-SVID for identity.introspection.audience (the
                     id must be one of identity.introspection.clients to introspect)
  --operator <sub>   operator token for this subject, carrying the operator role
  --ttl <seconds>    lifetime (default ${DEFAULT_AGENT_TTL_SECONDS} for agents, ${DEFAULT_OPERATOR_TTL_SECONDS} for operators; at most the
                     trust domain's or issuer's maxLifetimeSeconds)
  --config <file>    config file (default: $QUARTERMASTER_CONFIG, else the embedded default)
  -h, --help         show this help
`;

export const devTokenCommand = command({
  words: ['dev', 'token'],
  summary: 'mint a development agent or operator token (development mode only)',
  usage: USAGE,
  run: devToken,
});

async function devToken(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseOptions(args, {
    agent: { type: 'string' },
    operator: { type: 'string' },
    'introspection-client': { type: 'string' },
    ttl: { type: 'string' },
    config: { type: 'string', short: 'c' },
  });
  const client = values['introspection-client'];
  if ([values.agent, values.operator, client].filter((v) => v !== undefined).length !== 1)
    throw new Refusal('give exactly one of --agent, --introspection-client or --operator', true);
  const ttl = values.ttl === undefined ? undefined : parseTtl(values.ttl);

  const { config, file } = loadCliConfig(values.config, io);
  if (config.mode !== 'development')
    throw new Refusal(`refused: ${file} is in ${config.mode} mode; development tokens exist only in development mode`);
  if (!config.devIssuer) throw new Refusal(`refused: ${file} has no devIssuer section`);

  const token =
    values.agent !== undefined
      ? await mintAgent(config, config.devIssuer, values.agent, ttl)
      : client !== undefined
        ? await mintAgent(config, config.devIssuer, client, ttl, config.identity.introspection.audience)
        : await mintOperator(config, config.devIssuer, values.operator as string, ttl);
  io.stdout(`${token}\n`);
  return EXIT_OK;
}

function parseTtl(text: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(text))
    throw new Refusal(`--ttl must be a positive whole number of seconds, got ${JSON.stringify(text)}`, true);
  return Number(text);
}

function checkTtl(ttl: number, max: number, where: string): number {
  if (ttl > max) throw new Refusal(`--ttl ${ttl} exceeds ${where}.maxLifetimeSeconds (${max}); the broker would refuse the token`);
  return ttl;
}

/** An agent's token, or with `audience` an introspection client's (the same issuer, another audience). */
async function mintAgent(
  config: Config,
  dev: NonNullable<Config['devIssuer']>,
  agentId: string,
  ttl: number | undefined,
  audience?: string,
): Promise<string> {
  const id = parseSpiffeId(agentId);
  if (!id)
    throw new Refusal(
      `--agent must be a SPIFFE ID like spiffe://dev.local/agent/triage (lower-case trust domain; path segments of A-Z a-z 0-9 . _ -), got ${JSON.stringify(agentId)}`,
    );
  const domains = config.identity.agents.spiffe;
  const td = domains.find((d) => d.trustDomain === id.trustDomain);
  if (!td)
    throw new Refusal(
      `--agent trust domain ${id.trustDomain} is not in identity.agents.spiffe trustDomains (${domains.map((d) => d.trustDomain).join(', ') || 'none'})`,
    );
  const where = `identity.agents.spiffe[${td.trustDomain}]`;
  if (td.issuer !== undefined && td.issuer !== dev.agentIssuer) {
    throw new Refusal(
      `refused: ${where}.issuer is ${td.issuer}, not devIssuer.agentIssuer ${dev.agentIssuer}; its tokens would not verify`,
    );
  }
  const ttlSeconds = checkTtl(ttl ?? DEFAULT_AGENT_TTL_SECONDS, td.maxLifetimeSeconds, where);
  await ensureDevKeys(dev.keyDir);
  return mintAgentToken({
    keyDir: dev.keyDir,
    issuer: dev.agentIssuer,
    audience: audience ?? td.audience ?? config.identity.audience,
    agentId,
    ttlSeconds,
  });
}

async function mintOperator(
  config: Config,
  dev: NonNullable<Config['devIssuer']>,
  subject: string,
  ttl: number | undefined,
): Promise<string> {
  const operators = config.identity.operators;
  if (operators.issuer !== dev.operatorIssuer)
    throw new Refusal(
      `refused: devIssuer.operatorIssuer ${dev.operatorIssuer} is not identity.operators.issuer; its tokens would not verify`,
    );
  checkSubject(subject, '--operator');
  const ttlSeconds = checkTtl(ttl ?? DEFAULT_OPERATOR_TTL_SECONDS, operators.maxLifetimeSeconds, 'identity.operators');
  await ensureDevKeys(dev.keyDir);
  return mintOperatorToken({
    keyDir: dev.keyDir,
    issuer: operators.issuer,
    audience: operators.audience,
    subject,
    // The configured operator role and claim (defaults: `operator` in `roles`), so the token
    // passes every requirePermission whatever the config names them.
    roles: [operators.operatorRole],
    rolesClaim: operators.rolesClaim,
    ttlSeconds,
  });
}

/** The verifier refuses empty subjects and control characters; say so here instead of minting a dud. */
function checkSubject(subject: string, option: string): void {
  if (subject === '' || subject.length > 2048 || hasUnsafeCharacters(subject)) {
    throw new Refusal(`${option} must be a non-empty subject without control characters`);
  }
}
