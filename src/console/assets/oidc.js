// Sign-in through the OpenID Provider: authorization code with PKCE (RFC 7636) as a public
// client, the access token asked for probewatch's audience (RFC 8707 `resource`). The verifier
// and state stay in this tab's sessionStorage; the token becomes the console's bearer credential.
import { credential } from './api.js';

const PENDING = 'probewatch.oidc';

const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectUri = () => `${location.origin}/console`;

export async function consoleConfig() {
  const res = await fetch('/v1/console/config');
  return res.ok ? (await res.json()).oidc : null;
}

async function discovery(issuer) {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`the identity provider's discovery document answered ${res.status}`);
  return res.json();
}

/** Leaves for the provider's sign-in page; comes back to /console?code=…&state=… */
export async function startSignIn(cfg) {
  const d = await discovery(cfg.issuer);
  const verifier = random(32);
  const state = random(16);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: location.hash }));
  const u = new URL(d.authorization_endpoint);
  const params = { response_type: 'code', client_id: cfg.client_id, redirect_uri: redirectUri(), scope: cfg.scope, state, code_challenge: challenge, code_challenge_method: 'S256' };
  if (cfg.resource) params.resource = cfg.resource;
  u.search = new URLSearchParams(params).toString();
  location.assign(u.toString());
}

/** On the way back from the provider: trades the code for a token. False when this is no such return. */
export async function finishSignIn(cfg) {
  const p = new URLSearchParams(location.search);
  if (!p.has('code') && !p.has('error')) return false;
  const saved = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', `/console${saved?.hash ?? ''}`);
  if (p.has('error')) throw new Error(`the identity provider refused the sign-in: ${p.get('error')}${p.get('error_description') ? ` (${p.get('error_description')})` : ''}`);
  if (!cfg || !saved || p.get('state') !== saved.state) throw new Error('the sign-in response does not match a sign-in this tab started');
  const d = await discovery(cfg.issuer);
  const body = { grant_type: 'authorization_code', code: p.get('code'), redirect_uri: redirectUri(), client_id: cfg.client_id, code_verifier: saved.verifier };
  if (cfg.resource) body.resource = cfg.resource;
  const res = await fetch(d.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
  const json = await res.json().catch(() => ({}));
  if (!res.ok || !json.access_token) throw new Error(`the identity provider's token endpoint answered ${res.status}${json.error ? `: ${json.error}` : ''}`);
  credential.set(json.access_token);
  return true;
}
