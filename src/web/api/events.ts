// The live stream (/api/events, Server-Sent Events) read with fetch rather than EventSource:
// EventSource cannot send an Authorization header, and putting the admin token in the URL would
// leave it in access logs and browser history. Reconnects by itself, with back-off.
import { authRequired } from './client.js';
import { authHeaders, onTokenChange } from './token.js';
import type { HealthEvent, TickEvent } from './types.js';

export type LiveState = 'connecting' | 'open' | 'retrying' | 'unauthorized';

interface LiveEvents {
  tick: TickEvent;
  health: HealthEvent;
  state: LiveState;
}

type Listener<K extends keyof LiveEvents> = (value: LiveEvents[K]) => void;
const listeners: { [K in keyof LiveEvents]: Set<Listener<K>> } = {
  tick: new Set(),
  health: new Set(),
  state: new Set(),
};
/** The latest value of each event, for components that mount after it arrived. */
const latest: Partial<LiveEvents> = {};

export function subscribe<K extends keyof LiveEvents>(event: K, listener: Listener<K>): () => void {
  listeners[event].add(listener);
  return () => listeners[event].delete(listener);
}

export function latestValue<K extends keyof LiveEvents>(event: K): LiveEvents[K] | undefined {
  return latest[event];
}

function emit<K extends keyof LiveEvents>(event: K, value: LiveEvents[K]): void {
  latest[event] = value;
  for (const listener of listeners[event]) listener(value);
}

let controller: AbortController | undefined;
let retryMs = 3000;
let failures = 0;

/** Opens the stream (once per page); a token change restarts it. */
export function connectLive(): void {
  if (controller) return;
  onTokenChange(() => {
    controller?.abort();
    controller = undefined;
    failures = 0;
    void run();
  });
  void run();
}

async function run(): Promise<void> {
  const own = new AbortController();
  controller = own;
  emit('state', 'connecting');
  try {
    const response = await fetch('./api/events', {
      headers: { accept: 'text/event-stream', ...authHeaders() },
      signal: own.signal,
      cache: 'no-store',
    });
    if (response.status === 401) {
      emit('state', 'unauthorized');
      authRequired();
      return; // a new token restarts the stream
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    emit('state', 'open');
    failures = 0;
    await readEvents(response.body, own.signal);
  } catch {
    if (own.signal.aborted) return;
  }
  if (own.signal.aborted || controller !== own) return;
  emit('state', 'retrying');
  failures++;
  // Back off up to 30 s so a dashboard left open during a long outage does not hammer the server.
  const delay = Math.min(30000, retryMs * 2 ** Math.min(failures - 1, 4));
  setTimeout(() => {
    if (controller === own) void run();
  }, delay);
}

async function readEvents(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let newline = buffer.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      // A CR at the very end may be the first half of a CRLF split across chunks: wait for more.
      if (newline === buffer.length - 1 && buffer.endsWith('\r')) break;
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) dispatch(event, data.join('\n'));
        event = 'message';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = text;
        else if (field === 'data') data.push(text);
        else if (field === 'retry' && /^\d+$/.test(text)) retryMs = Number(text);
      }
      newline = buffer.search(/\r\n|\r|\n/);
    }
  }
}

function dispatch(event: string, text: string): void {
  try {
    if (event === 'tick') emit('tick', JSON.parse(text) as TickEvent);
    else if (event === 'health') emit('health', JSON.parse(text) as HealthEvent);
  } catch {
    // A malformed event is skipped; the next tick carries the full totals again.
  }
}
