import { describe, expect, it, vi } from 'vitest';
import { tick } from 'svelte';
import { render, fireEvent } from '@testing-library/svelte';
import ChatPanel from './ChatPanel.svelte';
import { CallModel } from '../state/call.svelte';

describe('ChatPanel', () => {
  it('shows hostile text as text and sends on Enter', async () => {
    const call = new CallModel();
    call.apply({ type: 'participantJoined', identity: 'p', name: '<img src=x onerror="window.__pwned=1">' });
    call.apply({ type: 'chat', messages: [{ id: '1', from: 'p', text: '<script>window.__pwned=2</script><b>bold</b>', timestampMs: Date.now() }] });
    const send = vi.fn();
    const { getAllByTestId, getByTestId, container } = render(ChatPanel, { call, send, openLink: vi.fn() });
    expect(getAllByTestId('chat-text')[0]!.textContent).toBe('<script>window.__pwned=2</script><b>bold</b>');
    expect(getAllByTestId('chat-from')[0]!.textContent).toBe('<img src=x onerror="window.__pwned=1">');
    expect(container.querySelector('script, img, b')).toBeNull();
    const input = getByTestId('chat-input') as HTMLTextAreaElement;
    await fireEvent.input(input, { target: { value: 'hello' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(send).toHaveBeenCalledWith('hello');
  });

  it('asks before opening a link', async () => {
    const call = new CallModel();
    call.apply({ type: 'chat', messages: [{ id: '1', from: 'p', text: 'look https://example.com', timestampMs: 1 }] });
    const openLink = vi.fn();
    const { getByText } = render(ChatPanel, { call, send: vi.fn(), openLink });
    await fireEvent.click(getByText('https://example.com'));
    expect(openLink).toHaveBeenCalledWith('https://example.com');
  });

  it('offers files only when they can be sent, and says why not', async () => {
    const call = new CallModel();
    const attach = vi.fn();
    const { getByTestId } = render(ChatPanel, { call, send: vi.fn(), openLink: vi.fn(), attach });
    const button = getByTestId('chat-attach') as HTMLButtonElement;
    expect(button.disabled).toBe(false);
    call.apply({ type: 'filesOffered', whyNot: 'Files go only to someone whose app is Tandem too' });
    await tick();
    expect(button.disabled).toBe(true);
    expect(button.getAttribute('aria-label')).toBe('Files cannot be sent: Files go only to someone whose app is Tandem too');
    call.apply({ type: 'filesOffered', whyNot: null });
    await tick();
    expect(button.disabled).toBe(false);
    await fireEvent.click(button);
    expect(attach).toHaveBeenCalledOnce();
  });
});
