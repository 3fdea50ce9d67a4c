// The coach's private notes: which session a note belongs to, and the
// Markdown the ended screen exports (notes, then the chat). Pure functions,
// tested directly.
import type { FileLine, JoinTarget } from '../ipc/ipc';
import type { ChatEntry } from './call.svelte';
import { clock, sizeWords } from './call.svelte';

export interface NoteKey {
  platformId: string;
  session: string;
}

/// A note belongs to the platform and the session (its id, room or link).
export function noteKey(t: JoinTarget): NoteKey {
  return { platformId: t.platformId, session: t.session ?? t.link ?? t.title };
}

/// Text as one Markdown line that renders as written: emphasis, code,
/// links, HTML and tables are escaped anywhere, and headings, lists and
/// quotes at the line's start; the rest stays readable as plain text.
function escapeLine(s: string): string {
  return s
    .replace(/([\\`*_[\]<>|~])/g, '\\$1')
    .replace(/^(\s*)([#+>-])/, '$1\\$2')
    .replace(/^(\s*\d+)\./, '$1\\.');
}

export interface Transcript {
  title: string;
  /// When the call ended.
  endedAt: Date;
  durationSecs: number;
  notes: string;
  chat: ChatEntry[];
  nameOf: (identity: string) => string;
}

/// A file in the transcript: its name, size and how it ended.
function fileSummary(f: FileLine): string {
  const size = f.size === null ? '' : `, ${sizeWords(f.size)}`;
  const how =
    f.status === 'done' ? (f.outgoing ? 'sent' : 'received') : f.status === 'moving' ? 'unfinished' : f.status === 'failed' ? 'failed' : 'cancelled';
  return `File: ${f.name} (${f.mimeType}${size}; ${how})`;
}

/// The notes as written, then the chat, each message a quoted line with its
/// sender and time.
export function notesMarkdown(t: Transcript): string {
  const out: string[] = [];
  out.push(`# ${escapeLine(t.title)}`, '');
  out.push(`${t.endedAt.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })} · ${clock(t.durationSecs)}`, '');
  out.push('## Notes', '');
  out.push(t.notes.trim() === '' ? '_No notes._' : t.notes.trim(), '');
  out.push('## Chat', '');
  const messages = t.chat.filter((m) => m.status !== 'failed');
  if (messages.length === 0) out.push('_No messages._', '');
  for (const m of messages) {
    const time = new Date(m.timestampMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const who = m.mine ? 'You' : t.nameOf(m.from);
    out.push(`**${escapeLine(who)}** (${time})`);
    const text = m.file ? fileSummary(m.file) : m.text;
    for (const line of text.split('\n')) out.push(`> ${escapeLine(line)}`);
    out.push('');
  }
  return out.join('\n');
}
