// Picks the IPC interface (the app's, or the scripted fake in a plain browser)
// and mounts the UI.
import { mount } from 'svelte';
import App from './App.svelte';
import { AppModel } from './lib/state/app.svelte';
import type { Ipc } from './lib/ipc/ipc';
import './app.css';

async function ipc(): Promise<Ipc> {
  if ('__TAURI_INTERNALS__' in window) {
    const { TauriIpc } = await import('./lib/ipc/tauri');
    return new TauriIpc();
  }
  const { FakeIpc } = await import('./lib/ipc/fake');
  const params = new URLSearchParams(location.search);
  const fake = new FakeIpc({
    empty: params.has('empty'),
    libraryProblem: params.get('libraryProblem') ?? undefined,
    update: params.has('update') ? { version: params.get('update')!, notes: 'Faster joins.', date: null } : undefined,
    updateError: params.has('updateError') ? { code: 'update', message: params.get('updateError')! } : undefined,
    floatWindow: params.has('float'),
    nativeVideo: params.has('native'),
  });
  (window as unknown as { __fake: unknown }).__fake = fake;
  return fake;
}

const target = document.getElementById('app');
if (target) {
  const chosen = await ipc();
  if (chosen.isFloatWindow()) {
    // The small always-on-top window during a call: it only draws.
    const { default: Float } = await import('./lib/screens/Float.svelte');
    mount(Float, { target, props: { ipc: chosen } });
  } else {
    const app = new AppModel(chosen);
    (window as unknown as { __app: unknown }).__app = app;
    mount(App, { target, props: { app } });
  }
}
