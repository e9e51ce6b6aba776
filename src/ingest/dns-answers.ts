// Name <-> address pairs learned from DNS logs and captures during one audit, so flows that carry
// only an address (flow logs, Zeek conn, pcap) get the host name their client looked up.

export class DnsAnswers {
  readonly #nameByAddress = new Map<string, string>();
  #pairs = 0;

  /** Records that `name` resolved to `address` (last answer wins). */
  add(name: string, address: string): void {
    const key = address.toLowerCase();
    const lower = name.toLowerCase().replace(/\.$/, '');
    if (this.#nameByAddress.get(key) !== lower) {
      this.#nameByAddress.set(key, lower);
      this.#pairs++;
    }
  }

  nameOf(address: string): string | undefined {
    return this.#nameByAddress.get(address.toLowerCase());
  }

  get size(): number {
    return this.#nameByAddress.size;
  }

  /** Number of distinct answers recorded (for the audit summary). */
  get answers(): number {
    return this.#pairs;
  }
}
