// What the SDK's REST helpers share: one JSON request authorised with the
// user's token, and the ACS error body of a failed one.

// Sends `body` as JSON to `path` (with `params` and `apiVersion` in the query)
// and answers the parsed JSON, or null for an empty body. A failure throws what
// `fail(status, error, text)` makes of the answer's `error` object.
export async function requestJson({ endpoint, token, method, path, body, params = {}, apiVersion, fail }) {
  const url = new URL(path, endpoint);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(name, value);
  }
  url.searchParams.set("api-version", apiVersion);
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.text();
  const json = text ? JSON.parse(text) : null;
  if (!answer.ok) throw fail(answer.status, json?.error ?? {}, text);
  return json;
}
