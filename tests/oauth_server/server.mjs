// A real OAuth 2 / OpenID authorization server for Authsome's tests (npm
// `oidc-provider` 9.x), on a free loopback port, plain http.
//
//   node server.mjs [--path /oidc] [--access-ttl 4] [--device-interval 1] [--device-ttl 600]
//                   [--device-expires-in N]
//
// --device-expires-in is what device authorization responses announce instead
// of the real --device-ttl: a longer one makes the server answer expired_token
// while its client still waits.
//
// Prints one JSON line {"port", "issuer"} when it listens. The issuer carries
// a path (default /oidc) so discovery of path-suffixed issuers is exercised.
// Enabled: authorization code + PKCE, device flow, dynamic registration,
// revocation, introspection, refresh tokens with rotation (a reused rotated
// refresh token revokes the whole grant), resource indicators for
// `<origin>/mcp`, whose RFC 9728 metadata this script also serves.
//
// Test-only routes, outside the issuer's path:
//   GET  /__test/log       token-endpoint requests seen, every value issued, and
//                          the metadata of dynamically registered clients
//   POST /__test/outage    {"count": N, "mode": "drop"|"503"|"slow_down"|"hang"}:
//                          fail the next N token-endpoint requests ("hang" never
//                          answers: the client must time out)
//   POST /__test/forget    forget every grant, access and refresh token
//                          (the next refresh answers invalid_grant)
//   POST /__test/deny-device  {"user_code"}: the user refuses the device login
import { createHash } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    path: { type: 'string', default: '/oidc' },
    'access-ttl': { type: 'string', default: '4' },
    'device-interval': { type: 'string', default: '1' },
    'device-ttl': { type: 'string', default: '600' },
    'device-expires-in': { type: 'string' },
  },
});
const mount = args.path.replace(/\/$/, '');

const store = new Map(); // "<Model>:<id>" -> payload
const issued = {}; // model -> [values]
const tokenRequests = []; // {grant_type, ok, error, rt, at (ms since the epoch)}
let outage = { count: 0, mode: 'drop' };

const fingerprint = (value) => (value
  ? createHash('sha256').update(value).digest('hex').slice(0, 16)
  : null);

class MemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload) {
    store.set(this.key(id), { ...payload });
    (issued[this.model] ||= []).push(id);
  }

  async find(id) { return store.get(this.key(id)); }

  async findByUserCode(userCode) {
    for (const [key, value] of store) {
      if (key.startsWith(`${this.model}:`) && value.userCode === userCode) return value;
    }
    return undefined;
  }

  async findByUid(uid) {
    for (const [key, value] of store) {
      if (key.startsWith(`${this.model}:`) && value.uid === uid) return value;
    }
    return undefined;
  }

  async consume(id) {
    const value = store.get(this.key(id));
    if (value) value.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const [key, value] of store) {
      if (value.grantId === grantId) store.delete(key);
    }
  }
}

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const { port } = server.address();
const origin = `http://127.0.0.1:${port}`;
const issuer = `${origin}${mount}`;
const resource = `${origin}/mcp`;

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [
    {
      // A client the user "brings": confidential, id and secret known to the tests.
      client_id: 'static-confidential',
      client_secret: 'static-confidential-secret-3c1e9a',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/auth/callback/oauth'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
    },
    {
      // A public device-flow client (no secret).
      client_id: 'device-public',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: [],
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
    },
    {
      // The tests' resource server, allowed to introspect any token.
      client_id: 'introspector',
      client_secret: 'introspector-secret-77aa',
      redirect_uris: [],
      grant_types: [],
      response_types: [],
    },
  ],
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return { sub, email: `${sub}@example.test` }; } };
  },
  claims: { openid: ['sub'], email: ['email'] },
  scopes: ['openid', 'offline_access', 'email', 'read', 'write'],
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx) => ctx.oidc.client.clientId === 'introspector',
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new Error('unknown resource');
        return { scope: 'read write', accessTokenFormat: 'opaque', accessTokenTTL: Number(args['access-ttl']) };
      },
    },
  },
  pkce: { required: () => true },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: Number(args['access-ttl']),
    AuthorizationCode: 60,
    DeviceCode: Number(args['device-ttl']),
    Grant: 86400,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 86400,
    Session: 86400,
  },
  cookies: { keys: ['authsome-test-cookie-key'] },
});
provider.proxy = false;

// RFC 8628 lets the server choose the polling interval; a short one keeps tests fast.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body.interval = Number(args['device-interval']);
    if (args['device-expires-in']) ctx.body.expires_in = Number(args['device-expires-in']);
  }
});

// PKCE verifiers the clients sent, so the tests can look for them in logs too.
const keepVerifier = (params) => {
  if (params && params.code_verifier) (issued.CodeVerifier ||= []).push(params.code_verifier);
};
provider.on('grant.success', (ctx) => {
  const { params } = ctx.oidc;
  keepVerifier(params);
  tokenRequests.push({
    grant_type: params.grant_type, ok: true, error: null, rt: fingerprint(params.refresh_token), at: Date.now(),
  });
});
provider.on('grant.error', (ctx, err) => {
  const params = ctx.oidc?.params || {};
  keepVerifier(params);
  tokenRequests.push({
    grant_type: params.grant_type || null, ok: false, error: err.error || String(err), rt: fingerprint(params.refresh_token), at: Date.now(),
  });
});

const callback = provider.callback();

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

// What a dynamically registered client asked to be (never its secret).
const REGISTERED_FIELDS = [
  'application_type', 'grant_types', 'redirect_uris', 'response_types', 'scope', 'token_endpoint_auth_method',
];

function registeredClients() {
  const clients = {};
  for (const [key, value] of store) {
    if (!key.startsWith('Client:')) continue;
    clients[value.client_id] = Object.fromEntries(REGISTERED_FIELDS.map((name) => [name, value[name] ?? null]));
  }
  return clients;
}

async function testRoute(req, res, path) {
  if (path === '/__test/log') {
    return json(res, 200, { token_requests: tokenRequests, issued, registered_clients: registeredClients() });
  }
  const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : {};
  if (path === '/__test/outage') {
    outage = { count: Number(body.count || 0), mode: body.mode || 'drop' };
    return json(res, 200, outage);
  }
  if (path === '/__test/forget') {
    for (const key of [...store.keys()]) {
      if (/^(Grant|AccessToken|RefreshToken):/.test(key)) store.delete(key);
    }
    return json(res, 200, { forgotten: true });
  }
  if (path === '/__test/deny-device') {
    for (const [key, value] of store) {
      if (key.startsWith('DeviceCode:') && value.userCode === body.user_code.replace(/-/g, '')) {
        Object.assign(value, { error: 'access_denied', errorDescription: 'End-User denied the request' });
        return json(res, 200, { denied: true });
      }
    }
    return json(res, 404, { denied: false });
  }
  return json(res, 404, { error: 'not_found' });
}

async function tokenOutage(req, res) {
  const params = new URLSearchParams(await readBody(req));
  tokenRequests.push({
    grant_type: params.get('grant_type'), ok: false, error: `outage-${outage.mode}`, rt: fingerprint(params.get('refresh_token')), at: Date.now(),
  });
  outage.count -= 1;
  if (outage.mode === '503') {
    json(res, 503, { error: 'temporarily_unavailable' });
  } else if (outage.mode === 'slow_down') {
    json(res, 400, { error: 'slow_down' });
  } else if (outage.mode === 'hang') {
    // Read, never answered: the request is left open until the client gives up.
  } else {
    req.socket.destroy();
  }
}

server.on('request', (req, res) => {
  const url = new URL(req.url, origin);
  if (url.pathname.startsWith('/__test/')) {
    testRoute(req, res, url.pathname).catch((err) => json(res, 500, { error: String(err) }));
    return;
  }
  if (url.pathname === '/.well-known/oauth-protected-resource/mcp') {
    json(res, 200, { resource, authorization_servers: [issuer], scopes_supported: ['read', 'write'] });
    return;
  }
  if (url.pathname === `/.well-known/oauth-authorization-server${mount}`) {
    // RFC 8414 path insertion for a path-suffixed issuer: same document as OpenID's.
    req.url = '/.well-known/openid-configuration';
    req.originalUrl = `${mount}/.well-known/openid-configuration`;
    callback(req, res);
    return;
  }
  if (url.pathname === '/mcp') {
    res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` });
    res.end();
    return;
  }
  if (!url.pathname.startsWith(`${mount}/`)) {
    json(res, 404, { error: 'not_found' });
    return;
  }
  if (url.pathname === `${mount}/token` && outage.count > 0) {
    tokenOutage(req, res).catch(() => req.socket.destroy());
    return;
  }
  req.originalUrl = req.url;
  req.url = req.url.slice(mount.length);
  callback(req, res);
});

process.stdout.write(`${JSON.stringify({ port, issuer })}\n`);
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections(); // hung requests too
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
