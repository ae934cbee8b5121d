import t from 'tap';
import { fhirWriteSuite } from './fhir-write.suite.js';

fhirWriteSuite(t, 'lmdb');
