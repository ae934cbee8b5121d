/**
 * routes.yaml at work: the test config routes everything normalized from the lab's feed `lab-oru`
 * to chu-lyon. A lab ORU must then be readable by the lab and the hospital, not by the insurer.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import type { NormalizationOutcome } from '../../gateway/core/ports.js';
import { corpus } from '../helpers/corpus.js';
import { startTestGateway } from '../helpers/gateway.js';

const ORU = readFileSync(corpus('hl7v2-to-fhir/microsoft-fhir-converter/LAB-ORU-1.hl7'));

t.test('records from a routed feed are shared with the route destination only', async (t) => {
  const gw = await startTestGateway({ store: 'lmdb' });
  t.teardown(() => gw.cleanup());
  const done = new Map<string, NormalizationOutcome>();
  const waiters = new Map<string, (o: NormalizationOutcome) => void>();
  gw.gateway.normalized.subscribe((o) => {
    done.set(o.rawId, o);
    waiters.get(o.rawId)?.(o);
  });
  const res = await gw.as('labo-bioplus', '/v1/raw/lab-oru', { method: 'POST', body: ORU });
  t.equal(res.status, 201);
  const { rawId } = (await res.json()) as { rawId: string };
  const outcome = done.get(rawId) ?? await new Promise<NormalizationOutcome>((resolve) => waiters.set(rawId, resolve));
  t.equal(outcome.ok, true, 'ORU normalized');

  const count = async (who: 'labo-bioplus' | 'chu-lyon' | 'mutuelle-x', type: string): Promise<number> => {
    const r = await gw.as(who, `/fhir/r4/${type}?_count=1000`);
    return ((await r.json()) as { total: number }).total;
  };
  const labObs = await count('labo-bioplus', 'Observation');
  t.ok(labObs > 0, `the lab sees its ${labObs} Observations`);
  t.equal(await count('chu-lyon', 'Observation'), labObs, 'the hospital sees them through the route');
  t.equal(await count('mutuelle-x', 'Observation'), 0, 'the insurer sees none');
  t.equal(await count('chu-lyon', 'OperationOutcome'), 0, 'the normalization outcome stays with the lab');
  t.equal(await count('labo-bioplus', 'OperationOutcome'), 1);
});
