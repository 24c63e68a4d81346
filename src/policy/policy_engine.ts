/**
 * The policy set a broker enforces, and how it changes while the broker runs (docs/policy.md
 * "Rolling out a change"):
 *
 *  - **reload**, on SIGHUP or when a file of the directory changes: the new set is read and
 *    validated whole, then swapped in at once; a set that does not load leaves the old one serving,
 *    with an error log naming file, line and reason, and `quartermaster_policy_reloads_total{outcome="failed"}`;
 *  - **shadow**: an optional second set (`policy.shadowDir`) evaluated beside the enforced one on
 *    every decision, never enforced; where the two differ, the difference is logged and counted
 *    (`quartermaster_policy_shadow_differences_total{enforced, shadow}`), so a change can be
 *    watched against real traffic before it is enforced.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../logging.js';
import type { Metrics } from '../metrics.js';
import {
  loadPolicySet,
  PolicyLoadError,
  readPolicyDir,
  type LoadedPolicySet,
  type PolicyDecision,
  type PolicyRequest,
} from './policy_set.js';
import type { SignalDecision, SignalPolicyRequest } from './signal_policy.js';

export interface PolicyEngine {
  /** The enforced set's decision (the shadow set, if any, is evaluated and compared beside it). */
  decide(request: PolicyRequest): PolicyDecision;
  /** The enforced set's outcome of a deviation signal (the shadow set's is compared beside it). */
  decideSignal(request: SignalPolicyRequest): SignalDecision;
  /** Reloads both sets; the ones that do not load keep serving. Resolves with what happened. */
  reload(): { readonly enforced: 'reloaded' | 'kept'; readonly shadow?: 'reloaded' | 'kept' };
  /** The enforced set now. */
  current(): LoadedPolicySet;
  /** The annotations of an enforced policy other than its id (empty for an unknown id). */
  annotations(policyId: string): Readonly<Record<string, string>>;
  /** Stops watching the directories. */
  close(): void;
}

export interface PolicyEngineOptions {
  readonly dir: string;
  readonly shadowDir?: string;
  /** Reload when a file of a directory changes (default true). */
  readonly watchFiles?: boolean;
  /** The attributes `policy.agentClaims` maps: the enforced set's schema must declare exactly these (a shadow set at most these). */
  readonly agentClaims?: readonly string[];
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'policyReloads' | 'policyShadowDifferences'>;
}

let engines = 0;

/** Loads the enforced set (throws PolicyLoadError: the broker does not start on a broken set) and the shadow set. */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  const { logger, metrics } = options;
  // One cache key per role: a reload replaces the parsed set (cedar-wasm's cache keeps every key).
  const keys = { enforced: `engine-enforced-${++engines}`, shadow: `engine-shadow-${engines}` };
  const claims = options.agentClaims ?? [];
  // The enforced set must declare every mapped claim; a shadow set may leave some out (it is being tried).
  const loadAs = (dir: string, which: 'enforced' | 'shadow'): LoadedPolicySet => {
    const source = readPolicyDir(dir);
    const mapped = which === 'enforced' ? claims : claims.filter((name) => source.claimTypes?.has(name));
    return loadPolicySet(source, keys[which], { agentClaims: mapped });
  };
  let enforced = loadAs(options.dir, 'enforced');
  let shadow: LoadedPolicySet | null = null;
  if (options.shadowDir !== undefined) {
    try {
      shadow = loadAs(options.shadowDir, 'shadow');
    } catch (err) {
      // A shadow set is never enforced: one that does not load is reported, and the broker starts.
      logger.error(
        { dir: options.shadowDir, problems: err instanceof PolicyLoadError ? err.problems : [String(err)] },
        'shadow policy set does not load',
      );
    }
  }

  const load = (dir: string, which: 'enforced' | 'shadow'): LoadedPolicySet | null => {
    try {
      // Validated whole first (readPolicyDir): only a set that loads replaces the one under the key.
      const set = loadAs(dir, which);
      metrics.policyReloads.inc({ set: which, outcome: 'reloaded' });
      logger.info({ dir, set: which, policies: Object.keys(set.source.policies).length }, 'policy set reloaded');
      return set;
    } catch (err) {
      metrics.policyReloads.inc({ set: which, outcome: 'failed' });
      logger.error(
        { dir, set: which, problems: err instanceof PolicyLoadError ? err.problems : [String(err)] },
        'policy set does not load; the previous set keeps serving',
      );
      return null;
    }
  };

  const engine: PolicyEngine = {
    decide(request) {
      const decision = enforced.decide(request);
      if (shadow) {
        const other = shadow.decide(request);
        if (other.effect !== decision.effect) {
          metrics.policyShadowDifferences.inc({ enforced: decision.effect, shadow: other.effect });
          logger.info(
            { agent: request.agent.id, profile: request.profile.name, incidentId: request.incident.id, enforced: decision, shadow: other },
            'shadow policy decides otherwise (not enforced)',
          );
        }
      }
      return decision;
    },
    decideSignal(request) {
      const decision = enforced.decideSignal(request);
      if (shadow) {
        const other = shadow.decideSignal(request);
        if (other.outcome !== decision.outcome) {
          metrics.policyShadowDifferences.inc({ enforced: decision.outcome, shadow: other.outcome });
          logger.info(
            { agent: request.agent.id, signal: request.signal.id, kind: request.signal.kind, enforced: decision, shadow: other },
            'shadow policy decides a signal otherwise (not enforced)',
          );
          return { ...decision, shadowOutcome: other.outcome };
        }
      }
      return decision;
    },
    reload() {
      const next = load(options.dir, 'enforced');
      if (next) enforced = next;
      if (options.shadowDir === undefined) return { enforced: next ? 'reloaded' : 'kept' };
      const nextShadow = load(options.shadowDir, 'shadow');
      if (nextShadow) shadow = nextShadow;
      return { enforced: next ? 'reloaded' : 'kept', shadow: nextShadow ? 'reloaded' : 'kept' };
    },
    current: () => enforced,
    annotations: (policyId) => enforced.source.annotations[policyId] ?? {},
    close() {
      for (const w of watchers) w.close();
      if (timer) clearTimeout(timer);
    },
  };

  // Editors write a file in several steps (truncate, write, rename): reload once things settle.
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  if (options.watchFiles ?? true) {
    for (const dir of [options.dir, ...(options.shadowDir === undefined ? [] : [options.shadowDir])]) {
      try {
        const w = watch(dir, () => {
          if (timer) clearTimeout(timer);
          timer = setTimeout(() => engine.reload(), 200);
          timer.unref();
        });
        w.unref();
        watchers.push(w);
      } catch (err) {
        logger.warn({ dir, err: err instanceof Error ? err.message : String(err) }, 'policy directory not watched; reload with SIGHUP');
      }
    }
  }
  return engine;
}
