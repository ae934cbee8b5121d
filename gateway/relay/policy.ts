import type { MessagingConfig, Participant } from '../config/schema.js';

/**
 * Who may write to whom (least-privilege routing, ENVELOPE.md §7): default deny; a rule names
 * participant kinds or participant ids on each side, optionally in both directions. A participant
 * may always write to its own devices (the sender's archive copy).
 */
export class MessagingPolicy {
  readonly #kinds: ReadonlyMap<string, string>;
  readonly #rules: MessagingConfig['policy'];

  /**
   * @param participants - participants.yaml entries (for their kinds)
   * @param rules - messaging.policy from gateway.yaml
   */
  constructor(participants: readonly Pick<Participant, 'id' | 'kind'>[], rules: MessagingConfig['policy']) {
    this.#kinds = new Map(participants.map((p) => [p.id, p.kind]));
    this.#rules = rules;
  }

  /**
   * @param from - sender participant id
   * @param to - recipient participant id
   * @returns true when a rule allows it
   */
  allows(from: string, to: string): boolean {
    if (from === to) return true;
    const fromKind = this.#kinds.get(from);
    const toKind = this.#kinds.get(to);
    if (fromKind === undefined || toKind === undefined) return false;
    const match = (side: readonly string[], id: string, kind: string): boolean => side.includes(id) || side.includes(kind);
    return this.#rules.some((r) => (match(r.from, from, fromKind) && match(r.to, to, toKind))
      || (r.both && match(r.from, to, toKind) && match(r.to, from, fromKind)));
  }
}
