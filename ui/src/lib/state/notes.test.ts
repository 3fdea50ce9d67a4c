import { describe, expect, it } from 'vitest';
import { noteKey, notesMarkdown } from './notes';
import type { ChatEntry } from './call.svelte';

const entry = (from: string, text: string, mine: boolean, status: ChatEntry['status'] = 'sent'): ChatEntry => ({
  key: `${from}-${text}`,
  from,
  text,
  timestampMs: Date.UTC(2026, 11, 6, 18, 5),
  mine,
  status,
  localId: null,
  error: null,
});

describe('notes', () => {
  it('belong to the platform and the session, or the link', () => {
    const t = { platformId: 'p1', session: 's-9', link: null, kind: 'video', title: 'T', otherName: null, paidMinutes: null, startsAt: null, encrypted: false } as const;
    expect(noteKey(t)).toEqual({ platformId: 'p1', session: 's-9' });
    expect(noteKey({ ...t, session: null, link: 'tok' })).toEqual({ platformId: 'p1', session: 'tok' });
  });

  it('export as Markdown: the notes as written, then the chat as quoted text that renders as typed', () => {
    const md = notesMarkdown({
      title: 'Session with *Sam*',
      endedAt: new Date(Date.UTC(2026, 11, 6, 19, 0)),
      durationSecs: 3605,
      notes: '- sleep 8 h\n- **walk** daily\n',
      chat: [
        entry('sam', 'hi <b>coach</b>\nsecond line', false),
        entry('me', 'see [this](javascript:alert(1))', true),
        entry('me', 'never sent', true, 'failed'),
        entry('sam', '# not a heading\n1. not a list, e.g. this', false),
      ],
      nameOf: (id) => (id === 'sam' ? 'Sam_Client' : id),
    });
    expect(md).toContain('# Session with \\*Sam\\*');
    expect(md).toContain('1:00:05');
    expect(md).toContain('## Notes\n\n- sleep 8 h\n- **walk** daily\n');
    expect(md).toContain('**Sam\\_Client**');
    expect(md).toContain('> hi \\<b\\>coach\\</b\\>\n> second line');
    expect(md).toContain('**You**');
    expect(md).toContain('> see \\[this\\](javascript:alert(1))');
    expect(md).not.toContain('never sent');
    expect(md).toContain('> \\# not a heading\n> 1\\. not a list, e.g. this');
  });

  it('say when there is nothing', () => {
    const md = notesMarkdown({ title: 'T', endedAt: new Date(), durationSecs: 5, notes: '  ', chat: [], nameOf: (i) => i });
    expect(md).toContain('_No notes._');
    expect(md).toContain('_No messages._');
  });
});
