/**
 * Passerelle client library: a participant's device talking to a Passerelle gateway with
 * end-to-end encrypted envelopes (passerelle.envelope.v1). The CLI (`passerelle-client`) is a thin
 * layer over these exports.
 */
export { PasserelleClient, RETIRED_KEY_TTL_MS, type SendOptions } from './client.js';
export { buildVerification, fingerprint, type Verification } from './verification.js';
export { guessType } from './content.js';
export { KeyFile, KEYFILE_FORMAT, type KeyFileHeader, type KeySecrets } from './keyfile.js';
export { ARGON2ID_DEFAULTS, SCRYPT_DEFAULTS, type KdfParams } from './kdf.js';
export { GatewayApi, type BlobDeclaration } from './gateway-api.js';
export { DirectoryView, type Peer, type PeerDevice } from './directory-view.js';
export { MessageStore, type StoredMessage, type StoredAttachment } from './message-store.js';
export { follow, type FollowEvent, type FollowOptions } from './follow.js';
export { parseDelivery, parseInbox, type Delivery, type ReceiveOutcome } from './receive.js';
export { chooseSuite, type OutgoingFile, type Sent } from './send.js';
export { readPassphrase, PASSPHRASE_ENV } from './passphrase.js';
export { main } from './cli.js';
