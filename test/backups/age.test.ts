import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { AgeDecryptStream, AgeEncryptStream, AgeError, generateIdentity, parseIdentity, parseRecipient } from '../../src/backups/age.js';

async function encrypt(data: Buffer, recipient: string, chunks = 7): Promise<Buffer> {
  const parts = Array.from({ length: chunks }, (_, i) => data.subarray(Math.floor((i * data.length) / chunks), Math.floor(((i + 1) * data.length) / chunks)));
  return buffer(Readable.from(parts).pipe(new AgeEncryptStream(parseRecipient(recipient))));
}

async function decrypt(data: Buffer, identity: string): Promise<Buffer> {
  return buffer(Readable.from([data]).pipe(new AgeDecryptStream(parseIdentity(identity))));
}

// Sizes around the 64 KiB chunk boundary are where streaming age implementations go wrong.
const SIZES = [0, 1, 65536, 65537, 2 * 65536 + 1];

describe('age format (interoperates with the age-encryption reference package)', () => {
  it.each(SIZES)('our encryption decrypts with age-encryption (%i bytes)', async (size) => {
    const keys = generateIdentity();
    const data = randomBytes(size);
    const d = new Decrypter();
    d.addIdentity(keys.identity);
    expect(Buffer.from(await d.decrypt(await encrypt(data, keys.recipient)))).toEqual(data);
  });

  it.each(SIZES)('age-encryption output decrypts with ours (%i bytes)', async (size) => {
    const identity = await generateX25519Identity();
    const e = new Encrypter();
    e.addRecipient(await identityToRecipient(identity));
    const data = randomBytes(size);
    expect(await decrypt(Buffer.from(await e.encrypt(data)), identity)).toEqual(data);
  });

  it('names a wrong key, truncation and tampering', async () => {
    const keys = generateIdentity();
    const enc = await encrypt(randomBytes(200_000), keys.recipient);
    const wrong = await decrypt(enc, generateIdentity().identity).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(AgeError);
    expect((wrong as AgeError).reason).toBe('no-matching-identity');
    const truncated = await decrypt(enc.subarray(0, enc.length - 70_000), keys.identity).catch((e: unknown) => e);
    expect((truncated as AgeError).reason).toBe('truncated');
    const tampered = Buffer.from(enc);
    tampered[tampered.length - 100_000]! ^= 1;
    expect(((await decrypt(tampered, keys.identity).catch((e: unknown) => e)) as AgeError).reason).toBe('bad-chunk');
  });

  it('an encryptor whose beforeFinal throws never writes a final chunk', async () => {
    const keys = generateIdentity();
    const enc = new AgeEncryptStream(parseRecipient(keys.recipient), async () => {
      throw new Error('pg_dump exited with code 1');
    });
    const out: Buffer[] = [];
    enc.on('data', (c: Buffer) => out.push(c));
    const failed = new Promise((_, reject) => enc.on('error', reject));
    enc.end(randomBytes(100_000));
    await expect(failed).rejects.toThrow('pg_dump exited with code 1');
    const partial = await decrypt(Buffer.concat(out), keys.identity).catch((e: unknown) => e);
    expect((partial as AgeError).reason).toBe('truncated');
  });
});
