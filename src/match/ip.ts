// IPv4 / IPv6 addresses and CIDR prefixes as byte arrays, parsed strictly. Pure, no I/O.

export interface IpAddress {
  version: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface IpPrefix extends IpAddress {
  length: number;
}

/** Strict dotted-quad IPv4 (no leading zeros, no shorthand); `undefined` otherwise. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (code === 0x2e) {
      if (digits === 0 || part > 3) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return undefined; // leading zero: ambiguous octal form
      value = value * 10 + (code - 0x30);
      if (value > 255) return undefined;
      digits++;
    } else {
      return undefined;
    }
  }
  return part === 4 ? bytes : undefined;
}

/** IPv6 text form (RFC 4291, with `::` and a trailing dotted quad); no zone id, no brackets. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : (halves[0] as string).split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : (halves[1] as string).split(':')) : [];
  const groups: number[] = [];
  const parseGroups = (parts: string[], allowIPv4Last: boolean): number[] | undefined => {
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (allowIPv4Last && i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIPv4(part);
        if (!v4) return undefined;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      out.push(Number.parseInt(part, 16));
    }
    return out;
  };
  const headGroups = parseGroups(head, halves.length === 1);
  const tailGroups = parseGroups(tail, true);
  if (!headGroups || !tailGroups) return undefined;
  if (halves.length === 1) {
    if (headGroups.length !== 8) return undefined;
    groups.push(...headGroups);
  } else {
    const missing = 8 - headGroups.length - tailGroups.length;
    if (missing < 1) return undefined;
    groups.push(...headGroups, ...new Array<number>(missing).fill(0), ...tailGroups);
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const group = groups[i] as number;
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  }
  return bytes;
}

export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const bytes = parseIPv6(text);
    return bytes ? { version: 6, bytes } : undefined;
  }
  const bytes = parseIPv4(text);
  return bytes ? { version: 4, bytes } : undefined;
}

/** `::ffff:a.b.c.d` (IPv4-mapped) as the IPv4 address it stands for; other addresses unchanged. */
export function unmapIPv4(address: IpAddress): IpAddress {
  if (address.version !== 6) return address;
  const b = address.bytes;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return address;
  if (b[10] !== 0xff || b[11] !== 0xff) return address;
  return { version: 4, bytes: b.slice(12) };
}

/** Parses `addr/len` (or a bare address as a host prefix); host bits must be zero. */
export function parsePrefix(text: string): IpPrefix | string {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIp(addressText);
  if (!address) return `"${addressText}" is not an IPv4 or IPv6 address`;
  const max = address.version === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) {
      return `prefix length "${lengthText}" is not between 0 and ${max}`;
    }
    length = Number(lengthText);
  }
  for (let bit = length; bit < max; bit++) {
    if (((address.bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1) {
      return `"${text}" has host bits set (did you mean ${formatPrefix({ ...address, length })}?)`;
    }
  }
  return { ...address, length };
}

export function formatIp(address: IpAddress): string {
  const b = address.bytes;
  if (address.version === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // RFC 5952: compress the longest run of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function formatPrefix(prefix: IpPrefix): string {
  const masked = new Uint8Array(prefix.bytes);
  for (let bit = prefix.length; bit < masked.length * 8; bit++) {
    masked[bit >> 3] = (masked[bit >> 3] as number) & ~(1 << (7 - (bit & 7)));
  }
  return `${formatIp({ version: prefix.version, bytes: masked })}/${prefix.length}`;
}

export function prefixContains(prefix: IpPrefix, address: IpAddress): boolean {
  if (prefix.version !== address.version) return false;
  for (let bit = 0; bit < prefix.length; bit++) {
    const mask = 1 << (7 - (bit & 7));
    if (((prefix.bytes[bit >> 3] as number) & mask) !== ((address.bytes[bit >> 3] as number) & mask)) {
      return false;
    }
  }
  return true;
}
