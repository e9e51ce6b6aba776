// Words and colours for verdicts and paths. Colour is never the only signal: every badge carries
// its word, and the colours keep a 4.5:1 contrast with their text (WCAG AA).
export const verdictNames: Readonly<Record<string, string>> = {
  ok: 'ok',
  leak: 'leak',
  exception: 'exception',
  unverified: 'unverified',
  unknown: 'unknown',
  'not-covered': 'not covered',
  blocked: 'blocked',
};

export const verdictHelp: Readonly<Record<string, string>> = {
  ok: 'took the path the catalog expects',
  leak: 'circuit-bound traffic crossed the public Internet',
  exception: 'a documented exception crossed the public Internet',
  unverified: 'the path it actually took is not known',
  unknown: 'no catalog rule matches the destination',
  'not-covered': 'the component is outside the catalog source (mobile)',
  blocked: 'the gateway refused it (fail closed)',
};

export const verdictOrder = ['ok', 'exception', 'leak', 'unverified', 'unknown', 'not-covered'] as const;

export const pathNames: Readonly<Record<string, string>> = {
  expressroute: 'ExpressRoute',
  internet: 'Internet',
  either: 'either',
  unknown: 'unknown',
  'not-covered': 'not covered',
};

/** Line colours for the charts (on white): blue circuit, orange Internet, grey unknown. */
export const pathColors: Readonly<Record<string, string>> = {
  expressroute: '#0b5cad',
  internet: '#c2410c',
  unknown: '#57606a',
};

export const fallbackColors = ['#6f42c1', '#1a7f37', '#9a6700', '#bf3989'];

export const components = ['saas', 'desktop', 'paas', 'gateway', 'mobile'] as const;
export const verdictChoices = [
  'ok',
  'exception',
  'leak',
  'unverified',
  'unknown',
  'not-covered',
  'blocked',
] as const;
export const expectedPathChoices = ['expressroute', 'internet', 'either', 'unknown', 'not-covered'] as const;
export const egressChoices = ['expressroute', 'internet'] as const;
export const outcomeChoices = ['forwarded', 'blocked', 'denied', 'error'] as const;
