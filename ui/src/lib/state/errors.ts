// What each error class means for the person in front of the screen.
import type { AppError, ErrorCode } from '../ipc/ipc';

export interface Advice {
  title: string;
  next: string;
  /// Trying again may help.
  retry: boolean;
  /// The way forward is signing in again.
  signIn: boolean;
}

const ADVICE: Record<ErrorCode, Advice> = {
  invalid_input: { title: 'Something needs fixing', next: 'Correct it and try again.', retry: true, signIn: false },
  unreachable: { title: "Can't reach your platform", next: 'Check your internet connection and the platform address, then try again.', retry: true, signIn: false },
  timeout: { title: 'Your platform is not answering', next: 'It may be busy: wait a moment and try again.', retry: true, signIn: false },
  tls: { title: 'Secure connection failed', next: 'Check the platform address (it should start with https://) or ask the platform for help.', retry: true, signIn: false },
  sign_in_required: { title: 'Please sign in again', next: 'Your sign-in has expired or was refused.', retry: false, signIn: true },
  forbidden: { title: "You can't join this session", next: 'You are not a participant of this session. Check that you are signed in with the right account.', retry: false, signIn: true },
  not_found: { title: 'Session not found', next: 'Check the link or session id, or ask your coach for a new link.', retry: false, signIn: false },
  gone: { title: 'This session is no longer available', next: 'It was cancelled, has ended, or the link expired. Ask your coach for a new booking or link.', retry: false, signIn: false },
  rate_limited: { title: 'Too many attempts', next: 'Wait a little, then try again.', retry: true, signIn: false },
  backend_failed: { title: 'Your platform had a problem', next: 'Try again in a few minutes; if it keeps happening, contact the platform.', retry: true, signIn: false },
  unsupported: { title: 'Not available on this platform', next: 'Use the session id or join link from the platform instead.', retry: false, signIn: false },
  clock_skew: { title: "Your computer's clock is wrong", next: "Turn on automatic date and time in your system settings, then try again.", retry: true, signIn: false },
  wrong_secret: { title: "The platform's call server is misconfigured", next: "This is not your fault: tell your coach or the platform's support that the LiveKit keys do not match.", retry: false, signIn: false },
  token_rejected: { title: 'The call server refused to let you in', next: 'Try again; if it keeps happening, contact the platform.', retry: true, signIn: false },
  connect_failed: { title: "Can't reach the call server", next: 'Check your internet connection (and any firewall or VPN), then try again.', retry: true, signIn: false },
  device: { title: 'Camera or microphone problem', next: 'Close other apps that may use it, or choose another device, then try again.', retry: true, signIn: false },
  keychain: { title: 'The system keychain is locked', next: 'Unlock your keychain (or sign in again) and retry.', retry: false, signIn: true },
  no_call: { title: 'The call has ended', next: 'Rejoin from your sessions.', retry: true, signIn: false },
  update: { title: 'Tandem could not update', next: 'Tandem keeps working as it is; try the update again later.', retry: false, signIn: false },
  internal: { title: 'Something went wrong', next: 'Try again; if it keeps happening, restart Tandem.', retry: true, signIn: false },
};

export function advice(e: AppError): Advice {
  return ADVICE[e.code] ?? ADVICE.internal;
}
