// node-oidc-provider, configured for the same cases as latchkey's benchmark (bench/run.py):
// client_credentials with JWT (ALG: ES256 or EdDSA) and opaque access tokens, introspection
// and revocation, Basic client authentication, its default in-memory adapter. Prints
// "listening on http://127.0.0.1:PORT" like `latchkey serve`.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

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

const client = (client_id, extra = {}) => ({
  client_id, client_secret: SECRET, redirect_uris: [], response_types: [], grant_types: ['client_credentials'],
  token_endpoint_auth_method: 'client_secret_basic', scope: 'items:read', ...extra,
});

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(base, {
    jwks: { keys: [jwk, rsa] },
    clients: [client('jwt'), client('opaque'), client('rs', { grant_types: [] })],
    scopes: ['items:read'],
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
  server.on('request', provider.callback());
  console.log(`listening on ${base}`);
});
