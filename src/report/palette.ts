// Colours of verdicts and paths, shared by every chart and report so that "leak" is the same red
// everywhere. Each has at least 4.5:1 contrast against white (WCAG AA for text, and well above the
// 3:1 that graphics need), so they can colour labels as well as bars.
import type { Verdict } from '../policy/verdict.js';

export const verdictColors: Readonly<Record<Verdict, string>> = {
  ok: '#15803d',
  leak: '#b91c1c',
  exception: '#b45309',
  unknown: '#4b5563',
  unverified: '#1d4ed8',
  'not-covered': '#7e22ce',
};

export const pathColors: Readonly<Record<'expressroute' | 'internet' | 'unknown', string>> = {
  expressroute: '#0f766e',
  internet: '#c2410c',
  unknown: '#6b7280',
};
