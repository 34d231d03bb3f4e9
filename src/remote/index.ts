export {
  type ArchivedClosure,
  type ArchiveInput,
  type ArchiveSink,
  readArchive,
  writeArchive,
} from './archive/archive.js';
export {
  ARTIFACT_TYPE,
  type Closure,
  type ClosureObject,
  decodeClosureManifest,
  EMPTY_CONFIG,
  EMPTY_CONFIG_BYTES,
  encodeClosureManifest,
  MANIFEST_MEDIA_TYPE,
  manifestDigest,
} from './closure-manifest.js';
export { asArrivalError, type ClosureRemote, openRemote } from './closure-remote.js';
export { configPath, loadRemoteConfig, type RemoteConfig } from './config.js';
export { HttpCache } from './http-cache.js';
export { createCacheServer, type ServeOptions } from './http-cache-server.js';
export { type Credentials, credentialsFor } from './oci/auth.js';
export { isOciTag, type OciRepository, parseOciRepository } from './oci/reference.js';
export { OciRegistry, openRegistry } from './oci/registry.js';
export {
  checkSignatures,
  decodeSignatures,
  encodeSignatures,
  generateKey,
  parseSecretKey,
  publicKeyOf,
  type SecretKey,
  type Signature,
  signatureTag,
  signClosure,
} from './signing.js';
