import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { RemoteError, UsageError } from '../errors/index.js';
import type { Digest } from '../store/digest.js';

// ed25519 keys and signatures for closure manifests, in the shape Nix's binary-cache keys have:
// a key is `NAME:BASE64`, NAME says whose it is (`cache.example.org-1`), the public part is the
// raw 32-byte key, the secret part the PKCS#8 encoding. A signature covers the fingerprint
// `cald-closure-v1;<program cas: name>;<manifest digest>`: the manifest digest pins every object
// of the closure, the program name pins what the closure is of, so neither a tag moved to another
// manifest nor a manifest relabelled as another program verifies.

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface SecretKey {
  readonly name: string;
  readonly key: KeyObject;
}

export interface PublicKey {
  readonly name: string;
  readonly key: KeyObject;
}

export interface Signature {
  /** The name of the key that made it. */
  readonly key: string;
  /** base64 of the 64-byte ed25519 signature. */
  readonly sig: string;
}

function split(text: string, what: string): { name: string; bytes: Buffer } {
  const colon = text.indexOf(':');
  const name = text.slice(0, colon);
  const b64 = text.slice(colon + 1).trim();
  if (colon < 0 || !NAME.test(name) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new UsageError(`not a ${what} (NAME:BASE64): ${text.slice(0, 40)}`);
  }
  return { name, bytes: Buffer.from(b64, 'base64') };
}

/** A new key pair named `name`: the secret as a line for a file, the public as a line to share. */
export function generateKey(name: string): { secret: string; public: string } {
  if (!NAME.test(name))
    throw new UsageError(`${name}: a key name is letters, digits, '.', '_', '-' (128 at most)`);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const secret = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
  return { secret: `${name}:${secret}`, public: publicOf(publicKey, name) };
}

function publicOf(key: KeyObject, name: string): string {
  const x = key.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('ed25519 public key without x');
  return `${name}:${Buffer.from(x, 'base64url').toString('base64')}`;
}

export function parseSecretKey(text: string): SecretKey {
  const { name, bytes } = split(text.trim(), 'secret key');
  try {
    const key = createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(key.asymmetricKeyType);
    return { name, key };
  } catch {
    throw new UsageError(`the secret key ${name} is not an ed25519 key`);
  }
}

/** The public key line of a secret key. */
export function publicKeyOf(secret: SecretKey): string {
  return publicOf(createPublicKey(secret.key), secret.name);
}

export function parsePublicKey(text: string): PublicKey {
  const { name, bytes } = split(text.trim(), 'public key');
  if (bytes.length !== 32) throw new UsageError(`the public key ${name} is not 32 bytes`);
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') },
    format: 'jwk',
  });
  return { name, key };
}

export function fingerprint(program: string, manifest: Digest): string {
  return `cald-closure-v1;${program};${manifest}`;
}

export function signClosure(secret: SecretKey, program: string, manifest: Digest): Signature {
  return {
    key: secret.name,
    sig: sign(null, Buffer.from(fingerprint(program, manifest)), secret.key).toString('base64'),
  };
}

/**
 * The name of a trusted key that signed this closure, or a REMOTE_UNTRUSTED error saying what
 * was found: no signature, signatures by keys not trusted here, or signatures that do not verify.
 */
export function checkSignatures(
  signatures: readonly Signature[],
  trusted: readonly PublicKey[],
  program: string,
  manifest: Digest,
  source: string,
): string {
  const data = Buffer.from(fingerprint(program, manifest));
  const known = signatures.filter((s) => trusted.some((k) => k.name === s.key));
  for (const s of known) {
    for (const k of trusted.filter((t) => t.name === s.key)) {
      const sig = Buffer.from(s.sig, 'base64');
      if (sig.length === 64 && verify(null, data, k.key, sig)) return k.name;
    }
  }
  const why =
    signatures.length === 0
      ? 'it is not signed'
      : known.length === 0
        ? `it is signed by ${[...new Set(signatures.map((s) => s.key))].join(', ')}, none of them trusted here`
        : `the signatures of ${known.map((s) => s.key).join(', ')} do not verify`;
  return untrusted(source, why);
}

function untrusted(source: string, why: string): never {
  throw new RemoteError('REMOTE_UNTRUSTED', `${source}: refused: ${why}`, {
    hint: "add the signer's public key to trusted-public-keys (docs/distribution.md), or pass --allow-unsigned",
    data: { remote: source },
  });
}

export const SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cald.signature.v1';
const SIGNATURES_KEY = 'dev.cald.signatures';

/** Where a closure manifest's signatures live: the tag `sha256-<manifest hex>.sig` (cosign's habit). */
export function signatureTag(manifest: Digest): string {
  return `${manifest.algorithm}-${manifest.hex}.sig`;
}

/** The signatures as an OCI manifest with no layers: they ride in one annotation. */
export function encodeSignatures(
  config: { mediaType: string; digest: string; size: number },
  sigs: readonly Signature[],
): Buffer {
  const sorted = [...sigs].sort((a, b) => a.key.localeCompare(b.key) || a.sig.localeCompare(b.sig));
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: SIGNATURE_ARTIFACT_TYPE,
      config,
      layers: [],
      annotations: { [SIGNATURES_KEY]: JSON.stringify(sorted) },
    }),
  );
}

/** The signatures a signature manifest holds; anything malformed is no signature at all. */
export function decodeSignatures(bytes: Buffer | undefined): Signature[] {
  if (bytes === undefined) return [];
  try {
    const m = JSON.parse(bytes.toString('utf8')) as {
      artifactType?: unknown;
      annotations?: Record<string, unknown>;
    };
    if (m.artifactType !== SIGNATURE_ARTIFACT_TYPE) return [];
    const list = JSON.parse(String(m.annotations?.[SIGNATURES_KEY] ?? '[]')) as unknown;
    if (!Array.isArray(list)) return [];
    return list
      .filter((s): s is Signature => typeof s?.key === 'string' && typeof s?.sig === 'string')
      .slice(0, 64)
      .map((s) => ({ key: s.key, sig: s.sig }));
  } catch {
    return [];
  }
}
