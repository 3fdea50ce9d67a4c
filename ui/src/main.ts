// Picks the backend (the app's, or the scripted fake in a plain browser)
// and mounts the UI.
import { mount } from 'svelte';
import App from './App.svelte';
import { AppModel } from './lib/state/app.svelte';
import type { Backend } from './lib/backend/backend';
import './app.css';

async function backend(): Promise<Backend> {
  if ('__TAURI_INTERNALS__' in window) {
    const { TauriBackend } = await import('./lib/backend/tauri');
    return new TauriBackend();
  }
  const { FakeBackend } = await import('./lib/backend/fake');
  const params = new URLSearchParams(location.search);
  const fake = new FakeBackend({
    empty: params.has('empty'),
    libraryProblem: params.get('libraryProblem') ?? undefined,
    update: params.has('update') ? { version: params.get('update')!, notes: 'Faster joins.', date: null } : undefined,
    updateError: params.has('updateError') ? { code: 'update', message: params.get('updateError')! } : undefined,
  });
  (window as unknown as { __fake: unknown }).__fake = fake;
  return fake;
}

const target = document.getElementById('app');
if (target) {
  const app = new AppModel(await backend());
  (window as unknown as { __app: unknown }).__app = app;
  mount(App, { target, props: { app } });
}
