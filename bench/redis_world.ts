/**
 * What the Redis benches share: a redis-server of their own on a free port (never the shared 6379),
 * a broker child on it, a keep-alive Agent, dev-issuer tokens and one open incident.
 */
import { Agent } from 'node:http';
import { startRedisServer } from '../test/support/redis_server.js';
import { benchTokens, httpCall, startBrokerChild, type BrokerChild, type HttpResult, type LogLevel } from './broker_child.js';

export interface RedisBrokerWorld {
  readonly redisUrl: string;
  readonly child: BrokerChild;
  readonly http: Agent;
  /** POST /v1/grants as the triage agent; throws unless 201. */
  grant(body: Record<string, unknown>): Promise<HttpResult>;
  get(path: string): Promise<HttpResult>;
  /** An operator's request (close, report): the operator token of the dev issuer. */
  asOperator(method: string, path: string): Promise<HttpResult>;
  stop(): Promise<void>;
}

export async function startRedisBrokerWorld(options: {
  logLevel: LogLevel;
  keyPrefix: string;
  incidentId: string;
  maxSockets: number;
}): Promise<RedisBrokerWorld> {
  const redis = await startRedisServer();
  const child = await startBrokerChild({
    logLevel: options.logLevel,
    store: { kind: 'redis', url: redis.url, keyPrefix: options.keyPrefix },
  }).catch(async (err: unknown) => {
    await redis.stop();
    throw err;
  });
  const http = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const stop = async (): Promise<void> => {
    http.destroy();
    await child.stop();
    await redis.stop();
  };
  try {
    const { operator, agent } = await benchTokens(child.keyDir, 'spiffe://dev.local/agent/triage');
    const json = { 'content-type': 'application/json' };
    const opened = await httpCall(
      http,
      `${child.url}/v1/incidents`,
      'POST',
      { ...json, authorization: `Bearer ${operator}` },
      JSON.stringify({ id: options.incidentId, title: 'bench', severity: 'sev4' }),
    );
    if (opened.status !== 201) throw new Error(`opening ${options.incidentId} answered ${opened.status}`);
    return {
      redisUrl: redis.url,
      child,
      http,
      async grant(body) {
        const res = await httpCall(
          http,
          `${child.url}/v1/grants`,
          'POST',
          { ...json, authorization: `Bearer ${agent}` },
          JSON.stringify({ incident_id: options.incidentId, profile: 'demo', ...body }),
        );
        if (res.status !== 201) throw new Error(`grant answered ${res.status}: ${res.body}`);
        return res;
      },
      get: (path) => httpCall(http, `${child.url}${path}`, 'GET', {}),
      asOperator: (method, path) => httpCall(http, `${child.url}${path}`, method, { authorization: `Bearer ${operator}` }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
