import { isIP } from 'node:net';
import iconv from 'iconv-lite';
import { z } from 'zod';

/**
 * The one config schema: each admin file has its part, and the TypeScript types are inferred from
 * it. Defaults live here and nowhere else. Objects are strict: an unknown key is an error, because
 * a misspelt `requireClientCert` silently ignored is a security hole.
 */

const SECRET_REF = /^(env:[A-Z_][A-Z0-9_]*|file:.+)$/;

/** A secret is always a reference (`env:NAME` or `file:path`), never the value itself. */
export const secretRef = z.string().regex(SECRET_REF, {
  message: 'secrets must be references, not values — fix: write env:NAME (an environment variable) or file:path (relative to the config directory)',
});

const port = z.number({ message: 'expected a port number' }).int().min(0).max(65535);
const host = z.string().min(1).default('127.0.0.1');
const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
  message: 'expected a lower-case slug (a-z, 0-9, -), at most 63 characters',
});

const tlsFiles = z.strictObject({
  cert: z.string().min(1).describe('certificate chain (PEM), path relative to the config directory'),
  key: secretRef.describe('private key (PEM)'),
  ca: z.string().min(1).optional().describe('CA bundle for client certificates'),
  requireClientCert: z.boolean().default(false),
});

const storeSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('lmdb'),
    path: z.string().min(1).default('../data/lmdb'),
  }),
  z.strictObject({
    kind: z.literal('redis'),
    url: z.union([secretRef, z.string().regex(/^rediss?:\/\/[^@]*$/, { message: 'a redis URL without credentials, or a secret reference' })]),
    prefix: z.string().min(1).default('passerelle:'),
    durability: z.enum(['always', 'everysec', 'none']).default('always'),
  }),
]);

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

/** A gateway-held Ed25519 key (directory or service key): a 32-byte seed behind a secret reference. */
const gatewayKeyRef = z.strictObject({
  ref: secretRef,
  generateIfMissing: z.boolean().default(false).describe('development only: create a random seed file on first start'),
});

const policyParty = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'expected a participant kind or a participant id' });

/**
 * Secure messaging (gateway/directory, gateway/relay): gateway keys, suites, limits, and the
 * write policy. Absent means the relay and the key directory are off.
 */
export const messagingSchema = z.strictObject({
  directoryKey: gatewayKeyRef.describe('signs directory log heads'),
  serviceKey: gatewayKeyRef.describe('signs accepted and delivered receipts'),
  suites: z.array(z.enum(['x25519.xchacha20poly1305.ed25519.blake2b', 'xwing+x25519.xchacha20poly1305.ed25519.blake2b']))
    .min(1).default(['x25519.xchacha20poly1305.ed25519.blake2b', 'xwing+x25519.xchacha20poly1305.ed25519.blake2b']),
  blobDir: z.string().min(1).default('../data/blobs'),
  limits: z.strictObject({
    maxEnvelopeBytes: z.number().int().min(4096).max(16 * 1024 * 1024).default(2 * 1024 * 1024),
    maxBlobBytes: z.number().int().min(1024).max(4 * 1024 ** 3).default(512 * 1024 * 1024),
    messagesPerMinute: z.number().int().min(1).default(600),
    bytesPerMinute: z.number().int().min(4096).default(256 * 1024 * 1024),
    heartbeatMs: z.number().int().min(1000).default(30_000),
    leaseMs: z.number().int().min(1000).default(60_000),
    wsHighWaterBytes: z.number().int().min(16 * 1024).default(1024 * 1024),
  }).prefault({}),
  /** Default deny: a sender may write only where a rule allows it (and always to itself). */
  policy: z.array(z.strictObject({
    from: z.array(policyParty).min(1),
    to: z.array(policyParty).min(1),
    both: z.boolean().default(false).describe('also allow the reverse direction'),
  })).default([]),
});

export const gatewayFileSchema = z.strictObject({
  name: z.string().min(1).default('passerelle'),
  http: z.strictObject({
    host,
    port: port.default(8080),
    tls: tlsFiles.optional(),
  }).prefault({}),
  store: storeSchema.prefault({ kind: 'lmdb' }),
  dataKey: z.strictObject({
    ref: secretRef,
    generateIfMissing: z.boolean().default(false).describe('development only: create a random key file on first start'),
  }),
  limits: z.strictObject({
    maxBodyBytes: z.number().int().min(1024).max(512 * 1024 * 1024).default(10 * 1024 * 1024),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({}),
  /** The FHIR R4 API (`/fhir/r4`), written through the fhir-r4 feeds of feeds.yaml. */
  fhir: z.strictObject({
    maxBundleEntries: z.number().int().min(1).max(100_000).default(1000).describe('entries a transaction or batch Bundle may hold'),
    answerWithinMs: z.number().int().min(0).max(120_000).default(10_000)
      .describe('how long a write waits for its records before answering 202 with the stored raw'),
  }).prefault({}),
  messaging: messagingSchema.optional(),
  normalize: z.strictObject({
    enabled: z.boolean().default(true).describe('run the normalize worker here (off: another process on the same Redis does it)'),
    batchSize: z.number().int().min(1).max(5000).default(200).describe('queue items normalized and committed in one store transaction'),
    threads: z.number().int().min(0).max(16).default(1).describe('1 (default): the normalize worker runs in its own thread; more: that thread plus threads − 1 for the mappings alone; 0: on the event loop'),
    maxBacklog: z.number().int().min(0).max(10_000_000).default(10_000).describe('intake waits (MLLP commit ACKs slow down) while this many messages wait for normalization; 0: no limit'),
    lingerMs: z.number().int().min(0).max(5000).default(50).describe('when less than a batch was queued, wait this long before the next claim so batches fill (fewer, larger commits)'),
  }).prefault({}),
});

export const PARTICIPANT_KINDS = ['hospital', 'lab', 'pharmacy', 'professional', 'insurer', 'admin'] as const;

const tokenHash = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, {
    message: 'expected the hex SHA-256 of the token (64 lower-case hex digits) — fix: run `passerelle token` and paste its sha256 line',
  }),
  label: z.string().max(64).optional(),
});

export const participantsFileSchema = z.strictObject({
  participants: z.array(z.strictObject({
    id: slug,
    kind: z.enum(PARTICIPANT_KINDS),
    name: z.string().min(1),
    tokens: z.array(tokenHash).default([]),
    identityKey: z.string().regex(B64URL_32, { message: 'expected an Ed25519 public key as 43 base64url characters (no padding)' }).optional()
      .describe('long-term Ed25519 identity key (messaging); changing it needs a signed rotation entry'),
  })).min(1),
});

export const FORMATS = ['hl7v2', 'fhir-r4', 'csv', 'raw'] as const;

const SHA256_FINGERPRINT = /^(?:[0-9A-Fa-f]{64}|(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})$/;
const MESSAGE_TYPE = /^(?:\*|[A-Za-z0-9]{3}(?:\^(?:\*|[A-Za-z0-9]{3}))?)$/;

function isAddressOrCidr(entry: string): boolean {
  const [addr = '', prefix, extra] = entry.split('/');
  const family = isIP(addr);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** MLLP listener of an hl7v2 feed. Authentication is mandatory: mTLS with pinned owner, or an address allow-list. */
const mllpSchema = z.strictObject({
  port,
  host,
  tls: z.strictObject({
    cert: z.string().min(1).describe('server certificate chain (PEM), path relative to the config directory'),
    key: secretRef.describe('server private key (PEM)'),
    ca: z.string().min(1).optional().describe('CA bundle client certificates must chain to'),
    requireClientCert: z.boolean().default(true),
    clientFingerprints: z.array(z.string().regex(SHA256_FINGERPRINT, {
      message: 'expected a SHA-256 certificate fingerprint (64 hex digits, colons allowed) — fix: run `openssl x509 -noout -fingerprint -sha256 -in client.crt`',
    })).default([]),
    clientSubjects: z.array(z.string().regex(/^[A-Za-z]+=[^,]+(?:,\s*[A-Za-z]+=[^,]+)*$/, {
      message: 'expected a subject such as CN=chu-lyon-mllp,O=CHU de Lyon — fix: write attribute=value pairs separated by commas',
    })).default([]),
  }).optional(),
  allowFrom: z.array(z.string().refine(isAddressOrCidr, {
    message: 'expected an IP address or CIDR (e.g. 10.1.2.3 or 10.1.0.0/16) — fix: write the sender address, no host names',
  })).default([]),
  insecure: z.boolean().default(false).describe('development only: accept unauthenticated plaintext connections'),
  allowedMessageTypes: z.array(z.string().regex(MESSAGE_TYPE, {
    message: 'expected a message type such as ADT^A01, ORU^* or ADT — fix: MSH-9.1, optionally ^ and MSH-9.2 or *',
  })).optional(),
  encoding: z.string().refine((name) => iconv.encodingExists(name), {
    message: 'unknown character set — fix: use an iconv-lite name such as windows-1252, iso-8859-15 or utf-8',
  }).optional(),
  ackMode: z.enum(['original', 'enhanced', 'auto']).default('auto'),
  maxFrameBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  idleTimeoutMs: z.number().int().min(1000).max(86_400_000).default(300_000),
  maxConnections: z.number().int().min(1).max(1024).default(8),
  /** Connections one source address may hold, so one peer cannot take every slot. */
  maxConnectionsPerSource: z.number().int().min(1).max(1024).default(4),
  /** A frame must be complete this long after its start byte (slow senders cannot hold a slot). */
  frameTimeoutMs: z.number().int().min(1000).max(3_600_000).default(30_000),
}).superRefine((m, ctx) => {
  const fix = (path: string[], message: string): void => { ctx.addIssue({ code: 'custom', path, message }); };
  const pinned = m.tls !== undefined && (m.tls.clientFingerprints.length > 0 || m.tls.clientSubjects.length > 0);
  if (m.tls && (m.tls.clientFingerprints.length > 0 || m.tls.clientSubjects.length > 0) && !m.tls.requireClientCert) {
    fix(['tls', 'requireClientCert'], 'pinned client certificates need requireClientCert: true — fix: set requireClientCert: true');
  }
  if (m.tls?.requireClientCert && !m.tls.ca) fix(['tls', 'ca'], 'client certificates required but no ca given — fix: add ca: with the CA that signs the owner\'s client certificate');
  if (m.tls?.requireClientCert && !pinned && m.allowFrom.length === 0) {
    fix(['tls'], 'a certificate from the CA does not say it is the feed owner — fix: add clientFingerprints or clientSubjects of the owner\'s certificate');
  }
  if (!m.tls && m.allowFrom.length === 0 && !m.insecure) {
    fix(['allowFrom'], 'a plaintext MLLP feed needs a source-address allow-list — fix: add allowFrom: [sender IP or CIDR], or use tls with client certificates (insecure: true only for development)');
  } else if (m.tls && !m.tls.requireClientCert && m.allowFrom.length === 0 && !m.insecure) {
    fix(['tls', 'requireClientCert'], 'TLS without client certificates does not authenticate the sender — fix: set requireClientCert: true with clientFingerprints, or add allowFrom');
  }
});

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const feedsFileSchema = z.strictObject({
  feeds: z.array(z.strictObject({
    name: slug,
    owner: slug,
    format: z.enum(FORMATS),
    maxBodyBytes: z.number().int().min(1).optional(),
    timeZone: z.string().refine(isTimeZone, {
      message: 'not an IANA time zone — fix: use a name such as Europe/Paris (times the sender writes without an offset are read in it)',
    }).optional(),
    mllp: mllpSchema.optional(),
    /** What else counts as a duplicate besides identical bytes (HL7 v2 feeds, MLLP and HTTP). */
    duplicates: z.strictObject({
      msh7WindowSeconds: z.number().int().min(0).max(86_400).default(0)
        .describe('a message equal to one received less than this many seconds before, except for MSH-7, is its duplicate (0: off)'),
    }).optional(),
    /** Which identifiers prove identity on this feed, and whose records a match may update. */
    identity: z.strictObject({
      /** A shared identity domain (e.g. a hospital group's MPI); default: the owner's records only. */
      domain: slug.optional(),
      /** PID-3 identifier types trusted for patient matching; default MR and PI (with an assigning authority). */
      patientIdentifierTypes: z.array(z.string().min(1).max(5)).min(1).optional(),
      /** Identifier systems trusted for patient matching whatever their type (FHIR senders often send none). */
      patientIdentifierSystems: z.array(z.string().regex(/^(https?:\/\/|urn:)\S+$/, {
        message: 'not an identifier system URI — fix: write it as the sender does, e.g. urn:oid:1.2.250.1.71.4.2.7 or https://hospital.example/mrn',
      })).min(1).optional(),
      /** The sender's national identifier (INS) is qualified, so it may link patients. */
      qualifiedNationalId: z.boolean().optional(),
    }).optional(),
  }).superRefine((f, ctx) => {
    if (f.mllp && f.format !== 'hl7v2') ctx.addIssue({ code: 'custom', path: ['mllp'], message: 'an MLLP listener carries HL7 v2 only — fix: set format: hl7v2 or remove mllp' });
  })).default([]),
});

export const routesFileSchema = z.strictObject({
  routes: z.array(z.strictObject({
    name: slug,
    when: z.strictObject({
      resourceType: z.array(z.string().min(1)).optional(),
      feed: z.array(slug).optional(),
      fromParticipant: z.array(slug).optional(),
    }).prefault({}),
    to: z.array(slug).min(1),
  })).default([]),
});

/** Which schema validates which file. Order is the order problems are reported in. */
export const CONFIG_FILES = {
  gateway: { file: 'gateway.yaml', schema: gatewayFileSchema },
  participants: { file: 'participants.yaml', schema: participantsFileSchema },
  feeds: { file: 'feeds.yaml', schema: feedsFileSchema },
  routes: { file: 'routes.yaml', schema: routesFileSchema },
} as const;

export type GatewayFile = z.infer<typeof gatewayFileSchema>;
export type ParticipantsFile = z.infer<typeof participantsFileSchema>;
export type FeedsFile = z.infer<typeof feedsFileSchema>;
export type RoutesFile = z.infer<typeof routesFileSchema>;
export type Participant = ParticipantsFile['participants'][number];
export type ParticipantKind = Participant['kind'];
export type FeedConfig = FeedsFile['feeds'][number];
export type MllpConfig = NonNullable<FeedConfig['mllp']>;
export type RouteConfig = RoutesFile['routes'][number];
export type MessagingConfig = z.infer<typeof messagingSchema>;

/** The validated configuration, deep-frozen, passed down explicitly (no global getter). */
export interface Config {
  /** Absolute config directory. Every path and `file:` reference below is absolute (config/resolve.ts). */
  readonly dir: string;
  readonly gateway: GatewayFile;
  readonly participants: ParticipantsFile['participants'];
  readonly feeds: FeedsFile['feeds'];
  readonly routes: RoutesFile['routes'];
}
