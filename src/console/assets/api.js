// The console's only way to data: the service's /v1 API with the signed-in credential as a
// bearer token. The credential lives in sessionStorage (gone when the tab closes), never in a
// cookie, so no other site can make the browser use it.

const KEY = 'probewatch.credential';

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && (body.message || (Array.isArray(body.errors) && body.errors.map((e) => `${e.field}: ${e.message}`).join('; ')));
    super(`${status}${detail ? `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`);
    this.status = status;
    this.body = body;
  }
}

export const credential = {
  get: () => sessionStorage.getItem(KEY),
  set: (v) => sessionStorage.setItem(KEY, v),
  clear: () => sessionStorage.removeItem(KEY),
};

async function call(method, path, body) {
  const headers = { authorization: `Bearer ${credential.get() ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    credential.clear();
    window.dispatchEvent(new Event('probewatch:signed-out'));
  }
  return res;
}

export async function api(method, path, body) {
  const res = await call(method, path, body);
  const json = (res.headers.get('content-type') || '').includes('json') ? await res.json() : null;
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** A file the API serves (a report): fetched with the credential, handed to the browser as a download. */
export async function download(path, filename) {
  const res = await call('GET', path);
  if (res.status !== 200) throw new ApiError(res.status, (res.headers.get('content-type') || '').includes('json') ? await res.json() : null);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};
