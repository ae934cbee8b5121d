import type { SegReader } from './reader.js';

/** An OBX with the NTE comments after it and the specimen it was reported under. */
export interface ObxItem {
  obx: SegReader;
  notes: SegReader[];
  specimen?: SegReader | undefined;
}

/** One order: ORC and/or OBR (or a pharmacy/vaccine order segment) with what follows it. */
export interface OrderGroup {
  orc?: SegReader | undefined;
  obr?: SegReader | undefined;
  /** NTE directly after the OBR/ORC: comments on the order. */
  notes: SegReader[];
  tq1: SegReader[];
  obx: ObxItem[];
  specimens: SegReader[];
  /** Other segments of the group (RXO, RXE, RXA…), keyed by segment ID. */
  extra: SegReader[];
}

/** Segments that open the detail of an order besides OBR. */
const ORDER_DETAIL = new Set(['OBR', 'RXO', 'RXE', 'RXD', 'RXA', 'RXG', 'ODS', 'ODT']);

/**
 * Group the order-related segments of a message in order. Handles the layouts of ORU^R01 (ORC?,
 * OBR, OBX…, SPM, OBX…), OML/ORM (ORC, OBR, SPM…), OUL^R22 (SPM, OBR, ORC, OBX…: a specimen
 * that precedes its orders applies to each of them) and RDE/RDS/VXU (ORC, RX?).
 * @param segments - the message's segment readers
 * @param specimenFirst - true for OUL, where SPM opens a specimen context for the orders after it
 */
export function groupOrders(segments: readonly SegReader[], specimenFirst: boolean): OrderGroup[] {
  const groups: OrderGroup[] = [];
  let g: OrderGroup | undefined;
  let floating: SegReader | undefined;
  let current: SegReader | undefined;
  let lastObx: ObxItem | undefined;
  let lastWasOrder = false;
  const open = (): OrderGroup => {
    g = { notes: [], tq1: [], obx: [], specimens: floating ? [floating] : [], extra: [] };
    current = floating;
    groups.push(g);
    lastObx = undefined;
    return g;
  };
  for (const s of segments) {
    switch (s.name) {
      case 'ORC':
        // OUL^R22 sends ORC after its OBR: attach it when the group has no ORC and no result yet.
        if (specimenFirst && g && !g.orc && g.obr && g.obx.length === 0) g.orc = s;
        else open().orc = s;
        lastWasOrder = true;
        break;
      case 'SPM':
        if (specimenFirst || !g) {
          floating = s;
          current = s;
          g = undefined;
        } else {
          g.specimens.push(s);
          current = s;
        }
        lastObx = undefined;
        lastWasOrder = false;
        break;
      case 'OBX': {
        const group = g ?? open();
        lastObx = { obx: s, notes: [], specimen: current };
        group.obx.push(lastObx);
        if (floating && !group.specimens.includes(floating)) group.specimens.push(floating);
        lastWasOrder = false;
        break;
      }
      case 'NTE':
        if (lastObx) lastObx.notes.push(s);
        else if (g && lastWasOrder) g.notes.push(s);
        break;
      case 'TQ1':
        if (g) g.tq1.push(s);
        break;
      default:
        if (g && (s.name === 'RXR' || s.name === 'RXC')) {
          g.extra.push(s);
          break;
        }
        if (!ORDER_DETAIL.has(s.name)) {
          if (s.name === 'PID' || s.name === 'PV1') g = undefined;
          if (s.name !== 'TQ2' && s.name !== 'PRT' && s.name !== 'CTI' && s.name !== 'FT1' && s.name !== 'TCD' && s.name !== 'SAC') lastObx = undefined;
          break;
        }
        if (!g || (s.name === 'OBR' ? g.obr !== undefined : g.extra.some((x) => x.name === s.name)) || g.obx.length > 0) open();
        if (s.name === 'OBR') g!.obr = s;
        else g!.extra.push(s);
        lastObx = undefined;
        lastWasOrder = true;
    }
  }
  return groups;
}
