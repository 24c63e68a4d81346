/** What the HTTP layer needs: the domain deps plus the identity verifier. */
import type { DomainDeps } from '../domain.js';
import type { Identity } from '../identity/types.js';

export interface HttpDeps extends DomainDeps {
  readonly identity: Identity;
}
