import { useEffect, useState, useCallback } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { ApiError } from './api';
import { STATUS_TEXT } from '../../src/domain/types';

/** The location hash, kept current. Routing by hash works the same inside an iframe. */
export function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export function go(hash: string): void {
  location.hash = hash.startsWith('#') ? hash.slice(1) : hash;
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Loads once per change of `deps`; `reload` loads again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | null; loading: boolean }>({ data: undefined, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (err: unknown) => live && setState({ data: undefined, error: toError(err), loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { ...state, reload };
}

export function toError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, 'client', err instanceof Error ? err.message : String(err));
}

/** Runs an action, keeping its pending state, error and result message for display. */
export function useAction(): {
  busy: boolean;
  error: ApiError | null;
  message: string | null;
  run: (f: () => Promise<string | void>) => Promise<boolean>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const run = async (f: () => Promise<string | void>) => {
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      const m = await f();
      if (typeof m === 'string') setMessage(m);
      return true;
    } catch (err) {
      setError(toError(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, message, run, clear: () => (setError(null), setMessage(null)) };
}

export function ErrorNote({ error, testid }: { error: ApiError | null; testid?: string }) {
  if (error === null) return null;
  return (
    <p class="error" role="alert" data-testid={testid ?? 'error'}>
      {error.message}
    </p>
  );
}

export function Status({ message, testid }: { message: string | null; testid?: string }) {
  return (
    <p class="status" role="status" data-testid={testid ?? 'status'}>
      {message ?? ''}
    </p>
  );
}

/** A 404 from a route the server may not have yet reads "not available" rather than failing. */
export function Unavailable({ error, what }: { error: ApiError; what: string }) {
  if (error.status === 404) return <p class="muted" data-testid="not-available">{what} is not available on this server.</p>;
  return <ErrorNote error={error} />;
}

export function Loading() {
  return <p class="muted" aria-live="polite">Loading…</p>;
}

export function fmtTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function fmtJson(v: unknown): string {
  return JSON.stringify(v, null, 2) ?? 'null';
}

/** A datetime-local input's value as an ISO time, or undefined when empty. */
export function localToIso(v: string): string | undefined {
  if (v === '') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function isoToLocal(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A Svix-style secret: whsec_ and base64 of 24 random bytes, made in this browser. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `whsec_${btoa(bin)}`;
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Inside a frame without clipboard permission: the older way still works on a user click.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'offscreen';
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

export function CopyButton({ text, label, testid }: { text: string; label?: string; testid?: string }) {
  const [done, setDone] = useState<string | null>(null);
  return (
    <span>
      <button type="button" class="secondary" data-testid={testid ?? 'copy'} onClick={async () => setDone((await copyText(text)) ? 'Copied.' : 'Copy failed: select the text and copy it.')}>
        {label ?? 'Copy'}
      </button>{' '}
      <span role="status" class="muted">
        {done ?? ''}
      </span>
    </span>
  );
}

/** Asks again in place before a destructive action (no window.confirm: it is blocked in some frames). */
export function Confirm({ label, question, onConfirm, testid, disabled }: { label: string; question: string; onConfirm: () => void; testid: string; disabled?: boolean }) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" class="danger" data-testid={testid} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span role="group" aria-label={question} class="confirm">
      <span>{question}</span>{' '}
      <button type="button" class="danger" data-testid={`${testid}-confirm`} onClick={() => (setAsking(false), onConfirm())}>
        Yes, {label.toLowerCase()}
      </button>{' '}
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function Section({ title, children, testid }: { title: string; children: ComponentChildren; testid?: string }) {
  return (
    <section class="card" aria-label={title} data-testid={testid}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function StatusBadge({ status, text }: { status: number; text?: string }) {
  const t = text ?? (STATUS_TEXT as readonly string[])[status] ?? String(status);
  return <span class={`badge badge-${t}`} data-testid="status-badge">{t}</span>;
}

/**
 * sessionStorage, or memory where the browser refuses storage to a framed page (third-party
 * storage blocked): the portal then still works until the frame reloads.
 */
const memory = new Map<string, string>();
export const session = {
  get(key: string): string | null {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return memory.get(key) ?? null;
    }
  },
  set(key: string, value: string): void {
    try {
      sessionStorage.setItem(key, value);
    } catch {
      memory.set(key, value);
    }
  },
  remove(key: string): void {
    memory.delete(key);
    try {
      sessionStorage.removeItem(key);
    } catch {
      // nothing stored there
    }
  },
};
