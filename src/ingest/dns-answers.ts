// Name <-> address pairs learned from DNS logs and captures during one audit, so flows that carry
// only an address (flow logs, Zeek conn, pcap) get the host name their client looked up.

export class DnsAnswers {
  readonly #nameByAddress = new Map<string, string>();
  /** The `privatelink.*` CNAME an answer went through, by address (Private Link evidence). */
  readonly #privateLinkByAddress = new Map<string, string>();
  #pairs = 0;

  /**
   * Records that `name` resolved to `address` (last answer wins); `via` is a CNAME of the chain
   * in a `privatelink.` zone, when there was one.
   */
  add(name: string, address: string, via?: string): void {
    const key = address.toLowerCase();
    const lower = name.toLowerCase().replace(/\.$/, '');
    if (this.#nameByAddress.get(key) !== lower) {
      this.#nameByAddress.set(key, lower);
      this.#pairs++;
    }
    if (via !== undefined) this.#privateLinkByAddress.set(key, via.toLowerCase().replace(/\.$/, ''));
    else this.#privateLinkByAddress.delete(key);
  }

  /** The `privatelink.*` name the last answer for this address went through, if any. */
  privateLinkOf(address: string): string | undefined {
    return this.#privateLinkByAddress.get(address.toLowerCase());
  }

  nameOf(address: string): string | undefined {
    return this.#nameByAddress.get(address.toLowerCase());
  }

  get size(): number {
    return this.#nameByAddress.size;
  }

  /** True while no answer was recorded (a field read, cheaper per flow than the Map's size). */
  get empty(): boolean {
    return this.#pairs === 0;
  }

  /** Number of distinct answers recorded (for the audit summary). */
  get answers(): number {
    return this.#pairs;
  }
}
