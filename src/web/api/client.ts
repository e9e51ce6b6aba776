// GET requests to the admin API with the token attached; a 401 asks the shell for a token.
import { authHeaders } from './token.js';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

type AuthListener = () => void;
const authListeners = new Set<AuthListener>();

/** The shell listens here to open the token dialog. */
export function onAuthRequired(listener: AuthListener): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

export function authRequired(): void {
  for (const listener of authListeners) listener();
}

export type Params = Record<string, string | number | undefined | null>;

export function apiUrl(path: string, params: Params = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const query = search.toString();
  // Relative to the page, so a dashboard served under a path prefix still reaches its API.
  return `.${path}${query ? `?${query}` : ''}`;
}

export async function apiGet<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const response = await fetch(apiUrl(path, params), {
    headers: { accept: 'application/json', ...authHeaders() },
    signal,
    cache: 'no-store',
  });
  if (!response.ok) {
    const { code, message } = await errorOf(response);
    if (response.status === 401) authRequired();
    throw new ApiError(response.status, code, message);
  }
  return (await response.json()) as T;
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } | string };
    if (typeof body.error === 'string') return { code: `HTTP_${response.status}`, message: body.error };
    return {
      code: body.error?.code ?? `HTTP_${response.status}`,
      message: body.error?.message ?? response.statusText,
    };
  } catch {
    return { code: `HTTP_${response.status}`, message: response.statusText || `HTTP ${response.status}` };
  }
}
