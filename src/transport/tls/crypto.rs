//! Record decryption with keys from a key log: the supported cipher suites, the
//! TLS 1.2 PRF and TLS 1.3 HKDF-Expand-Label key schedules, and AEAD record opening.
//!
//! Input: secrets, randoms and ciphertext records; output: plaintext or a reason.
//! All primitives come from `ring`; nothing here is a hand-written cipher.

use ring::{aead, hkdf, hmac};

/// The AEAD of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

/// The hash of a suite's PRF or HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

/// A suite we can decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub cipher: Cipher,
    pub hash: Hash,
    pub tls13: bool,
}

impl Cipher {
    fn algorithm(self) -> &'static aead::Algorithm {
        match self {
            Cipher::Aes128Gcm => &aead::AES_128_GCM,
            Cipher::Aes256Gcm => &aead::AES_256_GCM,
            Cipher::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
        }
    }

    fn key_len(self) -> usize {
        self.algorithm().key_len()
    }

    /// TLS 1.2 implicit IV length: 4-byte salt for GCM (RFC 5288 §3), the whole
    /// 12-byte nonce for ChaCha20-Poly1305 (RFC 7905 §2).
    fn tls12_iv_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 4,
            Cipher::Chacha20Poly1305 => 12,
        }
    }
}

impl Hash {
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }

    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        }
    }
}

/// The suites with keys we can use (RFC 8446 §B.4; RFC 5288, RFC 5289, RFC 7905).
pub fn suite(id: u16) -> Option<Suite> {
    use Cipher::*;
    use Hash::*;
    let (cipher, hash, tls13) = match id {
        0x1301 => (Aes128Gcm, Sha256, true),
        0x1302 => (Aes256Gcm, Sha384, true),
        0x1303 => (Chacha20Poly1305, Sha256, true),
        // ECDHE_ECDSA, ECDHE_RSA, DHE_RSA and RSA with AES-GCM.
        0xC02B | 0xC02F | 0x009E | 0x009C => (Aes128Gcm, Sha256, false),
        0xC02C | 0xC030 | 0x009F | 0x009D => (Aes256Gcm, Sha384, false),
        // ECDHE_RSA, ECDHE_ECDSA, DHE_RSA with ChaCha20-Poly1305.
        0xCCA8..=0xCCAA => (Chacha20Poly1305, Sha256, false),
        _ => return None,
    };
    Some(Suite {
        cipher,
        hash,
        tls13,
    })
}

/// IANA name of a cipher suite, or its number.
pub fn suite_name(id: u16) -> String {
    let name = match id {
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xC02B => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02C => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02F => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xCCA8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAA => "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0x009C => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009D => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009E => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009F => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0xC013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xC014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xC009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xC00A => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xC027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xC028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0x002F => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x003C => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003D => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x000A => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0x0004 => "TLS_RSA_WITH_RC4_128_MD5",
        _ => return format!("0x{id:04x}"),
    };
    name.to_string()
}

/// `ring`'s HKDF output length as a key type.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
pub fn expand_label(hash: Hash, secret: &[u8], label: &str, len: usize) -> Option<Vec<u8>> {
    let full = [b"tls13 ", label.as_bytes()].concat();
    let out_len = u16::try_from(len).ok()?.to_be_bytes();
    let label_len = [u8::try_from(full.len()).ok()?];
    let info: [&[u8]; 5] = [&out_len, &label_len, &full, &[0], &[]];
    let prk = hkdf::Prk::new_less_safe(hash.hkdf(), secret);
    let okm = prk.expand(&info, Len(len)).ok()?;
    let mut out = vec![0; len];
    okm.fill(&mut out).ok()?;
    Some(out)
}

/// The TLS 1.2 PRF, P_hash over HMAC (RFC 5246 §5).
pub fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(hash.hmac(), secret);
    let label_seed = [label, seed].concat();
    let mut a = hmac::sign(&key, &label_seed);
    let mut out = Vec::with_capacity(len + hash.output_len());
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, a.as_ref());
    }
    out.truncate(len);
    out
}

/// How a record's nonce and additional data are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// RFC 5288 §3: explicit 8-byte nonce after the header; AAD with the length.
    Tls12Explicit,
    /// RFC 7905 §2: IV XOR sequence number; AAD with the length.
    Tls12Xor,
    /// RFC 8446 §5.2–5.3: IV XOR sequence number; AAD is the record header.
    Tls13,
}

/// Why a record could not be decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The tag did not verify: wrong key, lost record, or altered bytes.
    Authentication,
    /// Shorter than the nonce and tag.
    TooShort,
}

/// One direction's keys and record sequence number.
pub struct Decrypter {
    key: aead::LessSafeKey,
    iv: [u8; 12],
    iv_len: usize,
    framing: Framing,
    seq: u64,
    /// TLS 1.3 traffic secret, kept for KeyUpdate (RFC 8446 §7.2).
    secret: Vec<u8>,
    suite: Suite,
}

impl std::fmt::Debug for Decrypter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material is never printed.
        f.debug_struct("Decrypter")
            .field("suite", &self.suite)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Decrypter {
    /// TLS 1.3 keys from a traffic secret (RFC 8446 §7.3).
    pub fn tls13(suite: Suite, secret: &[u8]) -> Option<Decrypter> {
        let key = expand_label(suite.hash, secret, "key", suite.cipher.key_len())?;
        let iv = expand_label(suite.hash, secret, "iv", 12)?;
        Decrypter::new(suite, &key, &iv, Framing::Tls13, secret.to_vec())
    }

    /// TLS 1.2 keys of one side from the master secret (RFC 5246 §6.3).
    pub fn tls12(
        suite: Suite,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        client_side: bool,
    ) -> Option<Decrypter> {
        let key_len = suite.cipher.key_len();
        let iv_len = suite.cipher.tls12_iv_len();
        let seed = [&server_random[..], &client_random[..]].concat();
        let block = prf(
            suite.hash,
            master,
            b"key expansion",
            &seed,
            2 * (key_len + iv_len),
        );
        let (client_key, rest) = block.split_at_checked(key_len)?;
        let (server_key, rest) = rest.split_at_checked(key_len)?;
        let (client_iv, server_iv) = rest.split_at_checked(iv_len)?;
        let (key, iv) = if client_side {
            (client_key, client_iv)
        } else {
            (server_key, server_iv)
        };
        let framing = match suite.cipher {
            Cipher::Chacha20Poly1305 => Framing::Tls12Xor,
            _ => Framing::Tls12Explicit,
        };
        Decrypter::new(suite, key, iv, framing, Vec::new())
    }

    fn new(
        suite: Suite,
        key: &[u8],
        iv: &[u8],
        framing: Framing,
        secret: Vec<u8>,
    ) -> Option<Decrypter> {
        let unbound = aead::UnboundKey::new(suite.cipher.algorithm(), key).ok()?;
        let mut full_iv = [0u8; 12];
        full_iv.get_mut(..iv.len())?.copy_from_slice(iv);
        Some(Decrypter {
            key: aead::LessSafeKey::new(unbound),
            iv: full_iv,
            iv_len: iv.len(),
            framing,
            seq: 0,
            secret,
            suite,
        })
    }

    /// KeyUpdate: the next generation of a TLS 1.3 traffic secret (RFC 8446 §7.2).
    pub fn updated(&self) -> Option<Decrypter> {
        let next = expand_label(
            self.suite.hash,
            &self.secret,
            "traffic upd",
            self.suite.hash.output_len(),
        )?;
        Decrypter::tls13(self.suite, &next)
    }

    /// Opens one record in place; returns the content type and plaintext range.
    /// `header` is the 5-byte record header, `fragment` the record body.
    pub fn open<'b>(
        &mut self,
        header: [u8; 5],
        fragment: &'b mut [u8],
    ) -> Result<(u8, &'b mut [u8]), OpenError> {
        let seq = self.seq.to_be_bytes();
        let [content_type, major, minor, ..] = header;
        let tag_len = self.key.algorithm().tag_len();
        let mut nonce = self.iv;
        let body = match self.framing {
            Framing::Tls12Explicit => {
                let (explicit, body) = fragment
                    .split_at_mut_checked(8)
                    .ok_or(OpenError::TooShort)?;
                for (n, e) in nonce.iter_mut().skip(self.iv_len).zip(explicit.iter()) {
                    *n = *e;
                }
                body
            }
            Framing::Tls12Xor | Framing::Tls13 => {
                for (n, s) in nonce.iter_mut().skip(4).zip(seq) {
                    *n ^= s;
                }
                fragment
            }
        };
        let plain_len = body.len().checked_sub(tag_len).ok_or(OpenError::TooShort)?;
        let aad: Vec<u8> = match self.framing {
            Framing::Tls13 => header.to_vec(),
            _ => {
                let len = u16::try_from(plain_len).map_err(|_| OpenError::TooShort)?;
                let mut aad = seq.to_vec();
                aad.extend_from_slice(&[content_type, major, minor]);
                aad.extend_from_slice(&len.to_be_bytes());
                aad
            }
        };
        let plain = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                body,
            )
            .map_err(|_| OpenError::Authentication)?;
        self.seq = self.seq.wrapping_add(1);
        if self.framing != Framing::Tls13 {
            return Ok((content_type, plain));
        }
        // TLSInnerPlaintext: content, then the real type, then zero padding (§5.2).
        let end = plain
            .iter()
            .rposition(|b| *b != 0)
            .ok_or(OpenError::TooShort)?;
        let (content, tail) = plain.split_at_mut(end);
        let inner_type = tail.first().copied().ok_or(OpenError::TooShort)?;
        Ok((inner_type, content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): server handshake traffic secret to
    /// write key and IV.
    #[test]
    fn expand_label_matches_rfc8448() {
        let secret = hex("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        let key = expand_label(Hash::Sha256, &secret, "key", 16).unwrap();
        let iv = expand_label(Hash::Sha256, &secret, "iv", 12).unwrap();
        assert_eq!(key, hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"));
        assert_eq!(iv, hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    /// The published TLS 1.2 PRF test vector for P_SHA256 (IETF TLS WG, 2009).
    #[test]
    fn prf_sha256_matches_published_vector() {
        let secret = hex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = hex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let out = prf(Hash::Sha256, &secret, b"test label", &seed, 100);
        assert_eq!(
            out[..16],
            hex("e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53")[..]
        );
        assert_eq!(out.len(), 100);
    }

    #[test]
    fn unknown_suites_are_named_by_number() {
        assert_eq!(suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(suite_name(0xabcd), "0xabcd");
        assert!(suite(0xC013).is_none());
        assert!(suite(0xCCA8).is_some());
    }
}
