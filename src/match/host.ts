// Host names and host patterns in the one canonical form every matcher uses: lower-case ASCII
// (punycode), no trailing dot. Pure functions, no I/O; the fast path allocates nothing for names
// that are already canonical.
import { domainToASCII } from 'node:url';

export type HostPattern =
  | { kind: 'exact'; name: string }
  /** `*.suffix`: one or more labels in front of `suffix`, never `suffix` itself. */
  | { kind: 'wildcard'; suffix: string };

const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/** Character classes for one pass over a name: 0 = invalid, 1 = canonical, 2 = needs lower-casing. */
const charClass = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) charClass[c] = 1; // 0-9
for (let c = 0x61; c <= 0x7a; c++) charClass[c] = 1; // a-z
for (let c = 0x41; c <= 0x5a; c++) charClass[c] = 2; // A-Z
charClass[0x2d] = 1; // -
charClass[0x5f] = 1; // _ (SRV-style and some real CDN names)
charClass[0x2e] = 1; // .

/**
 * Canonical form of a DNS name, or `undefined` when it is not a valid name.
 * Case-insensitive, one trailing dot ignored, Unicode converted to punycode, labels checked.
 */
export function canonicalHostName(input: string): string | undefined {
  // One pass over an ASCII name checks its characters and label lengths together: this runs for
  // every target and every log line, so it must not walk the name twice or allocate for names
  // that are already canonical.
  const length = input.length;
  let needsLower = false;
  let labelsValid = true;
  let labelStart = 0;
  for (let i = 0; i < length; i++) {
    const code = input.charCodeAt(i);
    if (code >= 128) return canonicalUnicodeName(input);
    const cls = charClass[code];
    if (cls === 0) return undefined;
    if (cls === 2) {
      needsLower = true;
    } else if (code === 0x2e) {
      const labelLength = i - labelStart;
      // A bad label is only noted: a non-ASCII character further on sends the whole name through
      // the Unicode path instead, which judges it on its punycode form.
      if (labelLength === 0 || labelLength > MAX_LABEL_LENGTH) labelsValid = false;
      labelStart = i + 1;
    }
  }
  const trailingDot = labelStart === length && length > 0;
  const nameLength = trailingDot ? length - 1 : length;
  if (!labelsValid || nameLength === 0 || nameLength > MAX_NAME_LENGTH) return undefined;
  if (!trailingDot && length - labelStart > MAX_LABEL_LENGTH) return undefined;
  const name = needsLower ? input.toLowerCase() : input;
  return trailingDot ? name.slice(0, -1) : name;
}

/**
 * The canonical form of `input` when it is a plain ASCII DNS name (letters, digits, `-`, `_`,
 * dots; one trailing dot allowed) whose last label does not start with a digit, else `undefined`.
 * For such a text, parseTarget's answer is exactly this name with no address and no port; callers
 * take their general path for everything else (addresses, URLs, ports, spaces, Unicode, errors).
 * One pass, no allocation for names already in canonical form.
 */
export function canonicalPlainName(input: string): string | undefined {
  const length = input.length;
  let needsLower = false;
  let labelStart = 0;
  let lastLabelStart = 0;
  for (let i = 0; i < length; i++) {
    const code = input.charCodeAt(i);
    const cls = code < 128 ? (charClass[code] as number) : 0;
    if (cls === 0) return undefined;
    if (cls === 2) {
      needsLower = true;
    } else if (code === 0x2e) {
      const labelLength = i - labelStart;
      if (labelLength === 0 || labelLength > MAX_LABEL_LENGTH) return undefined;
      lastLabelStart = labelStart;
      labelStart = i + 1;
    }
  }
  const trailingDot = labelStart === length;
  if (!trailingDot) {
    if (length - labelStart > MAX_LABEL_LENGTH) return undefined;
    lastLabelStart = labelStart;
  }
  const nameLength = trailingDot ? length - 1 : length;
  if (nameLength <= 0 || nameLength > MAX_NAME_LENGTH) return undefined;
  // A last label that starts with a digit may make the text an IPv4 address in one of its forms.
  const first = input.charCodeAt(lastLabelStart);
  if (first >= 0x30 && first <= 0x39) return undefined;
  const name = needsLower ? input.toLowerCase() : input;
  return trailingDot ? name.slice(0, -1) : name;
}

/** The slow path of canonicalHostName: IDNA (UTS #46) conversion to punycode, then label checks. */
function canonicalUnicodeName(input: string): string | undefined {
  let name = input;
  if (name.endsWith('.')) name = name.slice(0, -1);
  const converted = domainToASCII(name);
  if (converted === '') return undefined;
  name = converted;
  if (name.charCodeAt(name.length - 1) === 0x2e) name = name.slice(0, -1);
  return hasValidLabels(name) ? name : undefined;
}

function hasValidLabels(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  let labelStart = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name.charCodeAt(i) === 0x2e) {
      const length = i - labelStart;
      if (length === 0 || length > MAX_LABEL_LENGTH) return false;
      labelStart = i + 1;
    }
  }
  return true;
}

/**
 * Parses a catalog host pattern: an exact name or `*.suffix`. Returns the pattern, or a sentence
 * saying what is wrong with it. Wildcards anywhere else (`*cdn.x`, `a.*.b`) are not part of the
 * model and are rejected rather than guessed at.
 */
export function parseHostPattern(text: string): HostPattern | string {
  const trimmed = text.trim();
  if (trimmed !== text) return `host pattern "${text}" has surrounding spaces`;
  if (trimmed.length === 0) return 'host pattern is empty';
  if (trimmed.startsWith('*.')) {
    const suffix = trimmed.slice(2);
    if (suffix.includes('*')) return `host pattern "${text}" may hold only one wildcard, as its first label`;
    const canonical = canonicalHostName(suffix);
    if (canonical === undefined) return `host pattern "${text}" has an invalid suffix "${suffix}"`;
    if (!canonical.includes('.')) {
      return `host pattern "${text}" would match a whole top-level domain`;
    }
    return { kind: 'wildcard', suffix: canonical };
  }
  if (trimmed.includes('*')) {
    return `host pattern "${text}" has a wildcard that is not the whole first label (only "*.suffix" is supported)`;
  }
  const canonical = canonicalHostName(trimmed);
  if (canonical === undefined) return `host pattern "${text}" is not a valid host name`;
  return { kind: 'exact', name: canonical };
}

export function formatHostPattern(pattern: HostPattern): string {
  return pattern.kind === 'exact' ? pattern.name : `*.${pattern.suffix}`;
}

/** True when `host` (canonical) matches `pattern`; the reference semantics the index must agree with. */
export function hostMatchesPattern(host: string, pattern: HostPattern): boolean {
  if (pattern.kind === 'exact') return host === pattern.name;
  return host.length > pattern.suffix.length + 1 && host.endsWith(`.${pattern.suffix}`);
}
