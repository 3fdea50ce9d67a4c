import { describe, expect, it, vi } from 'vitest';
import { tick } from 'svelte';
import { render, fireEvent, waitFor } from '@testing-library/svelte';
import SharePicker from './SharePicker.svelte';
import type { Ipc } from '../ipc/ipc';

describe('SharePicker', () => {
  it('offers the system dialog on Wayland, without a picture, and says to choose there', async () => {
    const thumbnail = vi.fn(async () => 'data:image/jpeg;base64,');
    const ipc = {
      screensList: async () => [{ id: 'portal', name: 'A screen or window you choose in the system dialog', screen: true, width: 0, height: 0 }],
      screenThumbnail: thumbnail,
    } as unknown as Ipc;
    let answer: (why: string | null) => void = () => {};
    const share = vi.fn(() => new Promise<string | null>((resolve) => (answer = resolve)));
    const close = vi.fn();
    const { findByTestId, getByTestId, queryByTestId, findByRole } = render(SharePicker, { ipc, share, close });
    const choice = await findByTestId('share-choice');
    expect(choice.textContent).toContain("Opens your system's sharing dialog");
    expect(choice.textContent).not.toContain('0×0');
    await waitFor(() => expect(getByTestId('share-thumbnail').dataset.state).toBe('none'));
    expect(thumbnail).not.toHaveBeenCalled();

    await fireEvent.click(choice);
    expect(share).toHaveBeenCalledWith('portal');
    expect((await findByTestId('share-waiting')).textContent).toContain("Choose what to share in your system's dialog");
    answer('sharing was cancelled in the system\'s dialog');
    await tick();
    expect((await findByRole('alert')).textContent).toBe("sharing was cancelled in the system's dialog");
    expect(queryByTestId('share-waiting')).toBeNull();
    expect(close).not.toHaveBeenCalled();
  });
});
