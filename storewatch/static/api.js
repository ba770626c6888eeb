// The admin API: fetch with the session cookie and the CSRF header, and its one error shape.

const BASE = "/api/v1";
const SAFE = new Set(["GET", "HEAD"]);

let csrfToken = null;
let unauthorizedHandler = () => {};

/** An API answer that was not 2xx: {status, code, message, details: [{field, message}]}. */
export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The message for `field`, if the server named it. */
  fieldMessage(field) {
    const hit = this.details.find((d) => d.field === field);
    return hit ? hit.message : null;
  }
}

/** Called with no arguments whenever the server says the session is gone (401). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error;
  if (error && typeof error.message === "string") {
    return new ApiError(response.status, error.code, error.message, error.details || []);
  }
  return new ApiError(response.status, "http_" + response.status,
                      `The appliance answered ${response.status} ${response.statusText}.`);
}

async function send(method, path, body, options) {
  const headers = {Accept: "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  try {
    return await fetch(BASE + path, {
      method, headers, credentials: "same-origin", signal: options.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, "network", "The appliance did not answer. Is it on and on this network?");
  }
}

async function request(method, path, body, options = {}) {
  let response = await send(method, path, body, options);
  if (response.status === 403 && !SAFE.has(method)) {
    const error = await toError(response.clone());
    if (error.code === "csrf_failed" && (await refreshSession())) {
      response = await send(method, path, body, options);
    }
  }
  if (!response.ok) {
    const error = await toError(response);
    if (response.status === 401 && !path.startsWith("/admin/login")) unauthorizedHandler();
    throw error;
  }
  if (options.raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, options) => request("GET", path, undefined, options);
export const post = (path, body = {}, options) => request("POST", path, body, options);
export const patch = (path, body, options) => request("PATCH", path, body, options);
export const del = (path, options) => request("DELETE", path, undefined, options);

/** Build "?a=1&b=2" from the values that are set. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

/**
 * Is the browser logged in? Learns the CSRF token on the way. "Not logged in" is an answer
 * (200, authenticated false), not a failure, so a first visit logs nothing; an appliance that
 * does not answer, or answers with an error, throws ApiError.
 */
export async function refreshSession() {
  const response = await send("GET", "/admin/session", undefined, {});
  if (!response.ok) {
    csrfToken = null;
    throw await toError(response);
  }
  const body = await response.json();
  csrfToken = body.csrf_token || null;
  return Boolean(body.authenticated);
}

export async function login(password) {
  const body = await post("/admin/login", {password});
  csrfToken = body.csrf_token;
}

export async function logout() {
  try {
    await post("/admin/logout");
  } finally {
    csrfToken = null;
  }
}

/** A URL the browser may load directly (an <img> src), under the API. */
export function url(path) {
  return BASE + path;
}
