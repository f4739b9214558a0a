// A real OpenID Provider (oidc-provider) for the OIDC tests: issues JWT access tokens for the
// resource `aud` by the client-credentials grant, with the role and tenants of each client as claims.
// With a third argument, the console's redirect URI, it also serves the public client `pw-console`
// (authorization code with PKCE) and its development sign-in pages, where the person `alice`
// (safety, tenant acme) signs in.
// argv: <port> <audience> [console redirect URI]. Prints `ready <issuer>` when listening.
import Provider from 'oidc-provider';

const [port, audience, consoleRedirect] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const clients = {
  'pw-safety-acme': { role: 'safety', tenants: ['acme'] },
  'pw-reviewer-all': { role: 'reviewer', tenants: '*' },
  'pw-ingest-acme': { role: 'ingest', tenants: ['acme'] },
  'pw-norole': { role: null, tenants: ['acme'] },
};
const people = { alice: { role: 'safety', tenants: ['acme'] } };
const consoleClient = consoleRedirect
  ? [{ client_id: 'pw-console', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [consoleRedirect], token_endpoint_auth_method: 'none' }]
  : [];
const provider = new Provider(issuer, {
  clients: [
    ...Object.keys(clients).map((id) => ({ client_id: id, client_secret: `${id}-secret`, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' })),
    ...consoleClient,
  ],
  features: {
    devInteractions: { enabled: Boolean(consoleRedirect) },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'probewatch', audience, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  },
  async extraTokenClaims(_ctx, token) {
    const c = token.accountId ? people[token.accountId] : clients[token.clientId];
    if (!c) return {};
    return { ...(c.role ? { probewatch_role: c.role } : {}), probewatch_tenants: c.tenants };
  },
});
provider.listen(Number(port), '127.0.0.1', () => process.stdout.write(`ready ${issuer}\n`));
