/**
 * Step: a profile with `singleUse: true` accepts each agent token for one grant request only.
 * Runs after authorize, so a token is spent only on a request it could make; a later failure
 * (provider down) does not give it back — the agent asks its issuer for a fresh token.
 *
 * The replay record is keyed on the token's `tokenId` — SHA-256 of issuer + `jti`, or of
 * `header.payload` without a `jti` — never on the raw token: a re-encoded or high-S signature of
 * the same token is the same token (docs/security.md §1 "Replay"). It is kept in the shared store
 * until the last instant any replica's verifier would still accept the token (exp + leeway).
 * One token spends itself on any single-use profile: the record is per token, not per profile.
 */
import type { DomainDeps } from '../../domain.js';
import { tokenError } from '../../identity/token_errors.js';
import type { GrantContext } from '../grant_context.js';

export async function claimSingleUse(deps: Pick<DomainDeps, 'store' | 'now'>, ctx: Pick<GrantContext, 'agent' | 'profile'>): Promise<void> {
  const { agent, profile } = ctx;
  if (!profile.config.singleUse) return;
  const first = await deps.store.claimOnce(`agent-token:${agent.tokenId}`, agent.acceptedUntil, deps.now());
  if (!first) {
    throw tokenError(
      'ERR_TOKEN_REPLAYED',
      `profiles.${profile.name} is single-use and token ${agent.fingerprint} (${agent.jti === undefined ? 'no jti' : 'jti'}) was already used`,
    );
  }
}
