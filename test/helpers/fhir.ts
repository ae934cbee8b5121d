import type { RunningTestGateway } from './gateway.js';

/** What the FHIR integration tests share: the lab's FHIR feed, requests and answer shapes. */
export const FHIR_FEED = '  - name: lab-fhir\n    owner: labo-bioplus\n    format: fhir-r4\n';
export const FHIR = { 'content-type': 'application/fhir+json' };
export const MRN = { system: 'urn:oid:1.2.250.1.71.1', value: 'MRN-42', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } };

export type Json = Record<string, unknown>;
export interface Outcome { resourceType: string; issue: Array<{ severity: string; code: string; diagnostics: string; expression?: string[] }> }

/** POST as the lab, JSON-encoding the body unless it is already text. */
export const post = (gw: RunningTestGateway, path: string, body: unknown, headers: Record<string, string> = FHIR): Promise<Response> =>
  gw.as('labo-bioplus', path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** How many records of a type the lab can read. */
export async function count(gw: RunningTestGateway, type: string): Promise<number> {
  const res = await gw.as('labo-bioplus', `/fhir/r4/${type}?_summary=count`);
  return ((await res.json()) as { total: number }).total;
}
