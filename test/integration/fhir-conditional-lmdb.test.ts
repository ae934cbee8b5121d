import t from 'tap';
import { fhirConditionalSuite } from './fhir-conditional.suite.js';

fhirConditionalSuite(t, 'lmdb');
