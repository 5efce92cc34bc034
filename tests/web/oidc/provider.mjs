// A real OpenID Connect provider on loopback for ideaflow's tests: the certified npm package
// `oidc-provider`, one confidential client, and a sign-in form where the test types the e-mail
// address the signed-in account carries in its `email` claim.
//
//   node provider.mjs --client-id ID --client-secret SECRET --redirect-uri URI [--redirect-uri URI...]
//                     [--claims-in-userinfo-only]
//
// (or OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS separated by spaces). It listens on a
// free port of 127.0.0.1 chosen by the system, then prints one line, the contract its starter waits
// for:  oidc provider: http://127.0.0.1:PORT
// and serves until it gets SIGINT or SIGTERM. The issuer is that address (discovery document at
// /.well-known/openid-configuration).
//
// The client is registered as a "native" application so that, as RFC 8252 section 7.3 requires of
// loopback redirects, a redirect URI on 127.0.0.1 matches whatever port the console under test was
// given: register http://127.0.0.1/PATH once and every server the tests start on 127.0.0.1:PORT/PATH
// may use it. Everything else (state, nonce, PKCE, code exchange with the client secret, signed ID
// tokens, userinfo) is oidc-provider's own behaviour.
//
// Accounts: signing in with e-mail E creates (or finds) an account whose `sub` is derived from E and
// whose claims are { email: E, email_verified: true, name }. Consent is granted without asking, as a
// municipality's single sign-on does for its own applications.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'client-id': { type: 'string', default: process.env.OIDC_CLIENT_ID },
    'client-secret': { type: 'string', default: process.env.OIDC_CLIENT_SECRET },
    'redirect-uri': { type: 'string', multiple: true, default: (process.env.OIDC_REDIRECT_URIS || '').split(' ').filter(Boolean) },
    'claims-in-userinfo-only': { type: 'boolean', default: false },
  },
});
if (!args['client-id'] || !args['client-secret'] || args['redirect-uri'].length === 0) {
  console.error('usage: node provider.mjs --client-id ID --client-secret SECRET --redirect-uri URI');
  process.exit(2);
}

const accounts = new Map(); // accountId -> e-mail address typed at sign-in

function accountId(email) {
  return `account-${createHash('sha256').update(email).digest('hex').slice(0, 16)}`;
}

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInPage(uid, clientId, error = '') {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test identity provider: sign in</title></head>
<body><main><h1>Test identity provider</h1>
<p>Sign in to ${escapeHtml(clientId)}</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="email">E-mail</label> <input id="email" name="email" type="email" autocomplete="email" required>
<button type="submit">Sign in</button>
</form></main></body></html>`;
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [{
      client_id: args['client-id'],
      client_secret: args['client-secret'],
      redirect_uris: args['redirect-uri'],
      application_type: 'native',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // By default the ID token carries the scopes' claims (email) too, as Entra ID and Keycloak send
    // them; with --claims-in-userinfo-only it carries only `sub` and the email is to be read from the
    // userinfo endpoint (OIDC Core 5.4), as some providers do in the code flow.
    conformIdTokenClaims: args['claims-in-userinfo-only'],
    cookies: { keys: [randomBytes(32).toString('hex')] },
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' }] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const email = accounts.get(id);
      if (email === undefined) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, email, email_verified: true, name: email.split('@')[0] };
        },
      };
    },
  });
  const oidc = provider.callback();

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction does not match its cookie');
    if (details.prompt.name === 'consent') { // grant what was asked, as first-party single sign-on does
      const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      const missing = details.prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
        { mergeWithLastSubmission: true });
      return;
    }
    if (action !== 'login') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(signInPage(uid, details.params.client_id));
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    const email = (new URLSearchParams(body).get('email') || '').trim();
    if (!email.includes('@')) {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(signInPage(uid, details.params.client_id, 'Type an e-mail address.'));
      return;
    }
    accounts.set(accountId(email), email);
    await provider.interactionFinished(req, res, { login: { accountId: accountId(email) } },
      { mergeWithLastSubmission: false });
  }

  server.on('request', (req, res) => {
    const match = /^\/interaction\/([\w-]+)(?:\/(login))?$/.exec(new URL(req.url, issuer).pathname);
    if (!match) {
      oidc(req, res);
      return;
    }
    interaction(req, res, match[1], req.method === 'POST' ? match[2] : undefined).catch((error) => {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`sign-in failed: ${error.message}`);
    });
  });
  console.log(`oidc provider: ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // a browser's keep-alive connections would hold close() open
  });
}
