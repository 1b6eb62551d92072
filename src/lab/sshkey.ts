// Ed25519 key pairs in OpenSSH's own formats, for the lab's SSH identity and the hosts' host keys.
//
// Not ssh2.utils.generateKeyPairSync('ed25519'): ssh2 1.17.0 strips *every* leading zero byte of the
// DER BIT STRING, not only its unused-bits byte, so the 1 key in 256 whose public key starts with 0x00
// comes out 31 bytes long (mscdex/ssh2 issues #1390, #1513). sshd then refuses such a host key
// ("Unable to load host key …: error in libcrypto", "no hostkeys available -- exiting"), ssh.service
// fails at boot and the host never answers SSH: with 30 hosts, about one lab in nine.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

const KEY_TYPE = 'ssh-ed25519';
const KEY_BYTES = 32;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** An SSH wire-format string: uint32 length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([u32(b.length), b]);
}

export interface SshKeyPair {
  /** The private key file ("-----BEGIN OPENSSH PRIVATE KEY-----", unencrypted), newline-terminated. */
  readonly private: string;
  /** The public key line "ssh-ed25519 BASE64 comment", no newline. */
  readonly public: string;
}

/** A fresh Ed25519 key pair, encoded exactly as `ssh-keygen -t ed25519 -N ''` would write it. */
export function generateEd25519(comment: string): SshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  if (pub.length !== KEY_BYTES || seed.length !== KEY_BYTES) throw new Error(`ed25519 key generation returned ${pub.length}/${seed.length} bytes, expected ${KEY_BYTES}`);
  const pubBlob = Buffer.concat([sshString(KEY_TYPE), sshString(pub)]);
  const check = randomBytes(4);
  const section = Buffer.concat([check, check, sshString(KEY_TYPE), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad = Buffer.from(Array.from({ length: (8 - (section.length % 8)) % 8 }, (_, i) => i + 1)); // cipher "none": block size 8
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'), // cipher
    sshString('none'), // kdf
    sshString(''), // kdf options
    u32(1), // number of keys
    sshString(pubBlob),
    sshString(Buffer.concat([section, pad])),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    private: ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n'),
    public: `${KEY_TYPE} ${pubBlob.toString('base64')} ${comment}`.trimEnd(),
  };
}

/** True for a well-formed "ssh-ed25519 BASE64 [comment]" line (a 32-byte key), as sshd will accept it. */
export function isValidEd25519PublicKey(line: string): boolean {
  const [type, b64] = line.trim().split(/\s+/);
  if (type !== KEY_TYPE || !b64) return false;
  const blob = Buffer.from(b64, 'base64');
  if (blob.length < 4) return false;
  const nameLen = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + nameLen).toString('latin1') !== KEY_TYPE || blob.length < 8 + nameLen) return false;
  const keyLen = blob.readUInt32BE(4 + nameLen);
  return keyLen === KEY_BYTES && blob.length === 8 + nameLen + keyLen;
}
