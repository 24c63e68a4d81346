/**
 * A local HTTP server on 127.0.0.1 that speaks AWS STS (2011-06-15) and IAM (2010-05-08) over the
 * AWS Query protocol on one port, for the actions the AWS provider uses: STS AssumeRole and
 * GetCallerIdentity (sts.ts), IAM GetRole and the role inline-policy actions (iam.ts). Requests
 * are dispatched by `Action` and `Version`, authenticated with SigV4 (sigv4.ts; the credential
 * scope's service must be the action's), and — when made with session credentials — evaluated
 * against the session's role's inline policies and session policy (authorize.ts). Real-shaped
 * XML answers and errors throughout (query.ts); common errors per
 * https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html.
 *
 * Anything it does not understand (an unknown action, a body that is not a form, a request
 * without SigV4, a member or policy construct it does not model) is answered with an AWS-shaped
 * error where AWS has one, and recorded in `unexpected`, which tests assert empty
 * (CONTRIBUTING.md #16).
 *
 * Admin hooks, for clients that cannot reach the `AwsFake` object (the python check): not
 * authenticated, not recorded in `calls`, JSON bodies, 204 on success:
 *   POST /__fake/throttle {"count": n, "action"?: "GetRole"}  — same as fake.throttle(n, action)
 *   POST /__fake/fail     {"count": n, "action"?: "GetRole"}  — same as fake.fail(n, action)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { authorizeSession } from './authorize.js';
import { iamActions } from './iam.js';
import { newLongTermKeyId, newRequestId, newRoleId, newSecretKey, newUserId } from './ids.js';
import { errorXml, parseForm, successXml, unmodelledFields, VERSIONS } from './query.js';
import { parseAuthorization, signatureMatches } from './sigv4.js';
import type {
  ActionContext,
  ActionDef,
  AdminPrincipal,
  AwsFakeOptions,
  Caller,
  FakeRole,
  FakeSession,
  FakeState,
  RoleRecord,
  Service,
  SessionRecord,
} from './state.js';
import { AwsError, roleArn } from './state.js';
import { stsActions, stsStructFields } from './sts.js';

export type { AwsFakeOptions, FakeRole, FakeSession } from './state.js';

export interface AwsFakeCall {
  readonly action: string;
  readonly accessKeyId: string;
  /** 'ok' or the error code answered. */
  readonly outcome: string;
}

export interface AwsFake {
  /** http://127.0.0.1:<port> — give it to SDK clients as `endpoint`. */
  readonly url: string;
  readonly accountId: string;
  /** The long-term credentials the fake accepts for the broker itself (AKIA… id, secret). */
  readonly adminCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * Creates a role the admin may assume and manage. maxSessionDuration default 3600 (AWS range
   * 3600–43200). externalId: AssumeRole must then pass it (else AccessDenied).
   */
  createRole(
    name: string,
    options?: { readonly maxSessionDuration?: number; readonly externalId?: string; readonly path?: string },
  ): FakeRole;
  /** The role's inline policies, name → parsed JSON document. */
  rolePolicies(roleName: string): Record<string, unknown>;
  /** Every session AssumeRole issued, in order. */
  sessions(): readonly FakeSession[];
  /** The next `count` requests (of `action`, or of any action) answer 400 Throttling — the SDK's standard retry must retry them. */
  throttle(count: number, action?: string): void;
  /** The next `count` requests (of `action`, or any) answer 500: ServiceFailure (IAM), InternalFailure (STS). */
  fail(count: number, action?: string): void;
  /** Every request, in order: action, the caller's access key id ('' if none), outcome ('ok' or the error code). */
  readonly calls: ReadonlyArray<AwsFakeCall>;
  /** Requests the fake did not understand (unknown action, unparsable form, missing auth) — tests assert it stays empty. */
  readonly unexpected: readonly string[];
  stop(): Promise<void>;
}

const ACTIONS: Readonly<Record<string, ActionDef>> = { ...stsActions, ...iamActions };
const MAX_BODY_BYTES = 1024 * 1024;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/u;
const ROLE_PATH = /^(\/|\/[\u0021-\u007F]+\/)$/u;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/u;
const INVALID_TOKEN = 'The security token included in the request is invalid.';

interface Fault {
  readonly kind: 'throttle' | 'fail';
  remaining: number;
  readonly action: string | undefined;
}

interface Reply {
  readonly status: number;
  readonly xml: string;
  readonly requestId: string;
}

export async function startAwsFake(options: AwsFakeOptions = {}): Promise<AwsFake> {
  const accountId = options.accountId ?? '123456789012';
  const unexpected: string[] = [];
  const calls: AwsFakeCall[] = [];
  const faults: Fault[] = [];
  const state: FakeState = {
    accountId,
    now: options.now ?? Date.now,
    rolePolicySizeQuota: options.rolePolicySizeQuota ?? 10240,
    admin: adminPrincipal(accountId, options.adminIdentity ?? 'user'),
    roles: new Map(),
    sessions: [],
    sessionsByKeyId: new Map(),
    note: (what) => {
      if (!unexpected.includes(what)) unexpected.push(what);
    },
  };

  const serve = (req: IncomingMessage, body: Buffer | null): Reply => {
    const requestId = newRequestId();
    const credential = parseAuthorization(headerValue(req, 'authorization'));
    const keyId = credential?.accessKeyId ?? '';
    let action = '';
    let service: Service = credential?.service === 'iam' ? 'iam' : 'sts';
    const refuse = (error: AwsError, what?: string): Reply => {
      if (what !== undefined) state.note(what);
      calls.push({ action, accessKeyId: keyId, outcome: error.code });
      return { status: error.status, xml: errorXml(service, error, requestId), requestId };
    };

    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method !== 'POST' || url.pathname !== '/' || url.search !== '') {
      return refuse(new AwsError(501, 'NotImplemented', 'The fake AWS models only POST / with a form body.'), `${req.method} ${req.url}`);
    }
    if (body === null) return refuse(new AwsError(413, 'RequestEntityTooLarge', 'Request body too large.'), 'request body over 1 MiB');
    const contentType = headerValue(req, 'content-type') ?? '';
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/iu.test(contentType)) {
      return refuse(
        new AwsError(400, 'MissingAction', 'The request must contain the parameter Action.'),
        `body of type "${contentType}", not a form`,
      );
    }
    const { params, duplicates } = parseForm(body.toString('utf8'));
    action = params.get('Action') ?? '';
    for (const key of duplicates) state.note(`${action}: form field ${key} given twice`);
    if (action === '')
      return refuse(new AwsError(400, 'MissingAction', 'The request must contain the parameter Action.'), 'a form without Action');
    const version = params.get('Version') ?? '';
    const def = ACTIONS[action];
    if (!def || VERSIONS[def.service] !== version) {
      return refuse(
        new AwsError(400, 'InvalidAction', `Could not find operation ${action} for version ${version}`),
        `unknown action ${action} (Version ${version})`,
      );
    }
    service = def.service;

    const fault = faults.find((f) => f.remaining > 0 && (f.action === undefined || f.action === action));
    if (fault) {
      fault.remaining -= 1;
      if (fault.kind === 'throttle') return refuse(new AwsError(400, 'Throttling', 'Rate exceeded'));
      const message = 'The request processing has failed because of an unknown error, exception or failure.';
      return refuse(new AwsError(500, service === 'iam' ? 'ServiceFailure' : 'InternalFailure', message));
    }

    if (credential === undefined)
      return refuse(
        new AwsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token'),
        `${action} without an Authorization header`,
      );
    if (credential === null)
      return refuse(
        new AwsError(403, 'IncompleteSignature', 'Authorization header requires a SigV4 Credential, SignedHeaders and Signature.'),
        `${action} without a SigV4 Authorization header`,
      );
    if (credential.service !== service) {
      return refuse(
        new AwsError(403, 'SignatureDoesNotMatch', `Credential should be scoped to correct service: '${service}'. `),
        `${action} signed for service ${credential.service}`,
      );
    }
    let caller: Caller;
    let secret: string;
    if (keyId === state.admin.accessKeyId) {
      caller = { kind: 'admin', admin: state.admin };
      secret = state.admin.secretAccessKey;
    } else {
      const session = state.sessionsByKeyId.get(keyId);
      if (!session || headerValue(req, 'x-amz-security-token') !== session.sessionToken)
        return refuse(new AwsError(403, 'InvalidClientTokenId', INVALID_TOKEN));
      caller = { kind: 'session', session };
      secret = session.secretAccessKey;
    }
    const signed = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body };
    if (!signatureMatches(signed, credential, secret)) {
      const message =
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
      return refuse(new AwsError(403, 'SignatureDoesNotMatch', message));
    }
    if (caller.kind === 'session' && state.now() >= caller.session.expiresAt) {
      return refuse(new AwsError(403, 'ExpiredToken', 'The security token included in the request is expired'));
    }
    for (const field of unmodelledFields(params, def.members, stsStructFields))
      state.note(`${action}: field ${field} is not modelled by the fake aws`);

    let authorized = false;
    const ctx: ActionContext = {
      state,
      params,
      caller,
      authorize: (iamAction, resourceArn, described) => {
        authorized = true;
        if (caller.kind === 'session') authorizeSession(state, caller.session, iamAction, resourceArn, described);
      },
    };
    let result: string | null;
    try {
      result = def.handle(ctx);
    } catch (err) {
      if (err instanceof AwsError) return refuse(err);
      const code = service === 'iam' ? 'ServiceFailure' : 'InternalFailure';
      return refuse(new AwsError(500, code, 'The fake AWS failed.'), `fake aws crashed on ${action}: ${String(err)}`);
    }
    if (def.evaluated && !authorized && caller.kind === 'session')
      state.note(`fake aws bug: ${action} answered without evaluating the session's policies`);
    calls.push({ action, accessKeyId: keyId, outcome: 'ok' });
    return { status: 200, xml: successXml(service, action, result, requestId), requestId };
  };

  const hook = (path: string, body: Buffer | null, res: ServerResponse): void => {
    const kind = path === '/__fake/throttle' ? 'throttle' : path === '/__fake/fail' ? 'fail' : undefined;
    let spec: { count?: unknown; action?: unknown } | undefined;
    try {
      spec = JSON.parse(body?.toString('utf8') ?? '') as { count?: unknown; action?: unknown };
    } catch {
      spec = undefined;
    }
    const count = spec?.count;
    const target = spec?.action;
    if (kind === undefined || !Number.isInteger(count) || (target !== undefined && typeof target !== 'string')) {
      state.note(`admin hook ${path} with body ${body?.toString('utf8') ?? ''}`);
      res.writeHead(400, { 'content-type': 'text/plain' }).end('fake aws: POST /__fake/throttle|fail {"count": n, "action"?: "..."}');
      return;
    }
    faults.push({ kind, remaining: count as number, action: target as string | undefined });
    res.writeHead(204).end();
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    readBody(req)
      .then((body) => {
        const path = (req.url ?? '/').split('?')[0] as string;
        if (path.startsWith('/__fake/') && req.method === 'POST') return hook(path, body, res);
        const reply = serve(req, body);
        res
          .writeHead(reply.status, {
            'content-type': 'text/xml',
            'content-length': Buffer.byteLength(reply.xml),
            'x-amzn-RequestId': reply.requestId,
          })
          .end(reply.xml);
      })
      .catch((err: unknown) => {
        state.note(`fake aws failed to answer: ${String(err)}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    accountId,
    adminCredentials: { accessKeyId: state.admin.accessKeyId, secretAccessKey: state.admin.secretAccessKey },
    createRole: (name, roleOptions = {}) => createRole(state, name, roleOptions),
    rolePolicies(roleName) {
      const role = state.roles.get(roleName);
      if (!role) throw new Error(`fake aws: no role ${roleName}`);
      return Object.fromEntries([...role.policies].map(([policyName, policy]) => [policyName, policy.json]));
    },
    sessions: () => state.sessions.map(publicSession),
    throttle: (count, action) => faults.push({ kind: 'throttle', remaining: count, action }),
    fail: (count, action) => faults.push({ kind: 'fail', remaining: count, action }),
    calls,
    unexpected,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function adminPrincipal(accountId: string, identity: 'user' | 'assumed-role'): AdminPrincipal {
  const keys = { accessKeyId: newLongTermKeyId(), secretAccessKey: newSecretKey() };
  return identity === 'user'
    ? { identity, ...keys, arn: `arn:aws:iam::${accountId}:user/quartermaster`, userId: newUserId() }
    : { identity, ...keys, arn: `arn:aws:sts::${accountId}:assumed-role/quartermaster-broker/broker`, userId: `${newRoleId()}:broker` };
}

function createRole(
  state: FakeState,
  name: string,
  options: { readonly maxSessionDuration?: number; readonly externalId?: string; readonly path?: string },
): FakeRole {
  const path = options.path ?? '/';
  const maxSessionDuration = options.maxSessionDuration ?? 3600;
  if (!ROLE_NAME.test(name)) throw new Error(`fake aws: invalid role name ${name}`);
  if (!ROLE_PATH.test(path)) throw new Error(`fake aws: invalid role path ${path}`);
  if (!Number.isInteger(maxSessionDuration) || maxSessionDuration < 3600 || maxSessionDuration > 43200) {
    throw new Error(`fake aws: MaxSessionDuration must be 3600–43200, not ${maxSessionDuration}`);
  }
  if (options.externalId !== undefined && !EXTERNAL_ID.test(options.externalId))
    throw new Error(`fake aws: invalid external id ${options.externalId}`);
  // "Names of users, groups, roles, and instance profiles must be unique within the account. They are not distinguished by case."
  if ([...state.roles.keys()].some((existing) => existing.toLowerCase() === name.toLowerCase()))
    throw new Error(`fake aws: role ${name} exists`);
  const role: RoleRecord = {
    name,
    path,
    arn: roleArn(state.accountId, path, name),
    roleId: newRoleId(),
    maxSessionDuration,
    ...(options.externalId !== undefined ? { externalId: options.externalId } : {}),
    createdAt: state.now(),
    policies: new Map(),
  };
  state.roles.set(name, role);
  return {
    name,
    arn: role.arn,
    roleId: role.roleId,
    maxSessionDuration,
    ...(options.externalId !== undefined ? { externalId: options.externalId } : {}),
  };
}

/** A copy with only the FakeSession fields. */
function publicSession(s: SessionRecord): FakeSession {
  return {
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    sessionToken: s.sessionToken,
    roleName: s.roleName,
    sessionName: s.sessionName,
    assumedRoleId: s.assumedRoleId,
    tags: { ...s.tags },
    transitiveTagKeys: [...s.transitiveTagKeys],
    ...(s.sourceIdentity !== undefined ? { sourceIdentity: s.sourceIdentity } : {}),
    ...(s.externalId !== undefined ? { externalId: s.externalId } : {}),
    ...(s.policy !== undefined ? { policy: s.policy } : {}),
    policyArns: [...s.policyArns],
    issuedAt: s.issuedAt,
    expiresAt: s.expiresAt,
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** The body, or null past MAX_BODY_BYTES (the rest is drained, not kept). */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
