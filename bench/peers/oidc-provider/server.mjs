// node-oidc-provider, configured for the same cases as latchkey's benchmark (bench/run.py):
// client_credentials with JWT (ALG: ES256 or EdDSA) and opaque access tokens, introspection
// and revocation, the authorization code exchange (PKCE S256) and refresh-token rotation,
// Basic client authentication, its in-memory adapter (below). Prints
// "listening on http://127.0.0.1:PORT" like `latchkey serve`.
//
// Codes are prepared beforehand, as for latchkey, but without scripting the peer's login
// and consent pages: `POST /bench/codes?n=N` (this file's own route, outside the
// provider) saves N codes through the provider's own models, each for a grant of user
// alice to client app, and answers them one per line. Only the exchange is measured.
//
// Storage: the provider's own in-memory adapter, but not its default store, an LRU that
// keeps the last 1,000 entries only (tokens, codes and grants evicted past that would
// turn prepared codes and issued tokens invalid); here a store that keeps every entry
// until it expires, as latchkey's database does.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

const SECRET = process.env.BENCH_SECRET;
const ALG = process.env.ALG || 'ES256';
const JWT_RS = 'urn:bench:jwt';
const OPAQUE_RS = 'urn:bench:opaque';

const key = ALG === 'EdDSA'
  ? generateKeyPairSync('ed25519').privateKey
  : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const jwk = { ...key.export({ format: 'jwk' }), alg: ALG, use: 'sig', kid: 'bench' };
// Also an RS256 key: OpenID Connect requires one for ID tokens, which no case uses.
const rsa = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'rs' };

const REDIRECT = process.env.BENCH_REDIRECT;
const CHALLENGE = process.env.BENCH_CHALLENGE;

const client = (client_id, extra = {}) => ({
  client_id, client_secret: SECRET, redirect_uris: [], response_types: [], grant_types: ['client_credentials'],
  token_endpoint_auth_method: 'client_secret_basic', scope: 'items:read', ...extra,
});

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const store = new LRU({ maxSize: 100_000_000 });
  const provider = new Provider(base, {
    adapter: (model) => new MemoryAdapter(model, store),
    jwks: { keys: [jwk, rsa] },
    clients: [client('jwt'), client('opaque'), client('rs', { grant_types: [] }), client('app', {
      redirect_uris: [REDIRECT], response_types: ['code'], grant_types: ['authorization_code', 'refresh_token'],
    })],
    scopes: ['items:read'],
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    // As latchkey: a refresh token for every client allowed the grant (not only with
    // offline_access), rotated on every use.
    issueRefreshToken: (ctx, c) => c.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, c) => (c.clientId === 'jwt' ? JWT_RS : OPAQUE_RS),
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => ({
          scope: 'items:read',
          audience: resource,
          accessTokenFormat: resource === JWT_RS ? 'jwt' : 'opaque',
          ...(resource === JWT_RS ? { jwt: { sign: { alg: ALG } } } : {}),
        }),
      },
    },
  });
  const handle = provider.callback();
  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.url.startsWith('/bench/codes?')) {
      codes(provider, Number(new URL(req.url, base).searchParams.get('n'))).then(
        (list) => res.end(list.join('\n') + '\n'),
        (e) => { res.statusCode = 500; res.end(String(e)); },
      );
    } else {
      handle(req, res);
    }
  });
  console.log(`listening on ${base}`);
});

// `n` authorization codes for client app and user alice, as the provider saves them at
// the end of an authorization request (one grant each, resource scope items:read).
async function codes(provider, n) {
  const app = await provider.Client.find('app');
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId: 'alice', clientId: 'app' });
    grant.addResourceScope(OPAQUE_RS, 'items:read');
    const grantId = await grant.save();
    const code = new provider.AuthorizationCode({
      accountId: 'alice', client: app, grantId, scope: 'items:read', resource: OPAQUE_RS,
      redirectUri: REDIRECT, codeChallenge: CHALLENGE, codeChallengeMethod: 'S256',
    });
    out.push(await code.save());
  }
  return out;
}
