//! Secrets at rest: LLM API keys, webhook secret headers, SIP and trunk passwords and voicemail
//! PINs are sealed (ChaCha20-Poly1305, a random nonce each time) before they are written to the
//! database and opened when read, so a copy of the database alone does not reveal them. The key
//! comes from `SWITCHBOARD_SECRET_KEY` (64 hex digits) or, by default, from `secret.key` in the
//! data directory, created on first start (readable by its owner only). Values written before
//! sealing existed are read as they are and sealed on their next write.

use crate::error::{Error, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::path::Path;

const PREFIX: &str = "sealed:v1:";
pub const KEY_ENV: &str = "SWITCHBOARD_SECRET_KEY";

pub struct SecretKey {
    key: LessSafeKey,
    rng: SystemRandom,
    /// HMAC key for secrets derived from this one (`derive`).
    derivation: ring::hmac::Key,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> SecretKey {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte key");
        let derivation = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes);
        SecretKey { key: LessSafeKey::new(key), rng: SystemRandom::new(), derivation }
    }

    fn from_hex(text: &str, origin: &str) -> Result<SecretKey> {
        let bytes = hex::decode(text.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
        match bytes {
            Some(b) => Ok(SecretKey::from_bytes(&b)),
            None => Err(Error::Internal(format!("{origin} must hold 64 hex digits (a 256-bit key)"))),
        }
    }

    /// The key from the environment, else the data directory's key file (created if missing).
    pub fn load_or_create(data_dir: &Path) -> Result<SecretKey> {
        if let Ok(text) = std::env::var(KEY_ENV) {
            return SecretKey::from_hex(&text, KEY_ENV);
        }
        let path = data_dir.join("secret.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => SecretKey::from_hex(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                SystemRandom::new().fill(&mut bytes).map_err(|_| Error::Internal("no randomness".into()))?;
                std::fs::create_dir_all(data_dir).map_err(|e| Error::Internal(e.to_string()))?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(&path)
                    .map_err(|e| Error::Internal(format!("cannot create {}: {e}", path.display())))?;
                std::io::Write::write_all(&mut file, hex::encode(bytes).as_bytes())
                    .map_err(|e| Error::Internal(e.to_string()))?;
                Ok(SecretKey::from_bytes(&bytes))
            }
            Err(e) => Err(Error::Internal(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// A secret for one purpose, the same wherever this key is (HMAC-SHA256 of `purpose`),
    /// which does not reveal the key.
    pub fn derive(&self, purpose: &str) -> String {
        hex::encode(ring::hmac::sign(&self.derivation, purpose.as_bytes()).as_ref())
    }

    /// Seals a value (already sealed values are left as they are).
    pub fn seal(&self, plain: &str) -> String {
        if is_sealed(plain) {
            return plain.to_string();
        }
        let mut nonce = [0u8; NONCE_LEN];
        if self.rng.fill(&mut nonce).is_err() {
            // No randomness: never write a secret with a reused nonce.
            panic!("the system random number generator failed");
        }
        let mut data = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("sealing cannot fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend(data);
        format!("{PREFIX}{}", hex::encode(out))
    }

    /// Opens a sealed value; plain values (written before sealing) come back as they are.
    pub fn open(&self, stored: &str) -> Result<String> {
        let Some(hex_text) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_string()) };
        let bytes =
            hex::decode(hex_text).map_err(|_| Error::Internal("a sealed secret is damaged".into()))?;
        if bytes.len() < NONCE_LEN {
            return Err(Error::Internal("a sealed secret is damaged".into()));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Internal("bad nonce".into()))?;
        let mut data = sealed.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut data).map_err(|_| {
            Error::Internal(
                "a secret cannot be opened: the secret key is not the one it was sealed with".into(),
            )
        })?;
        String::from_utf8(plain.to_vec()).map_err(|_| Error::Internal("a sealed secret is not text".into()))
    }
}

pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key() {
        let key = SecretKey::from_bytes(&[7; 32]);
        let sealed = key.seal("sk-live-123");
        assert!(is_sealed(&sealed) && !sealed.contains("sk-live"));
        assert_ne!(sealed, key.seal("sk-live-123"), "a fresh nonce each time");
        assert_eq!(key.open(&sealed).unwrap(), "sk-live-123");
        assert_eq!(key.seal(&sealed), sealed, "sealing twice changes nothing");
        assert_eq!(key.open("plain").unwrap(), "plain", "values from before sealing");
        let other = SecretKey::from_bytes(&[8; 32]);
        assert!(other.open(&sealed).unwrap_err().to_string().contains("not the one"));
        let mut damaged = sealed.clone();
        damaged.pop();
        assert!(key.open(&damaged).is_err());
        // Derived secrets: the same for the same key and purpose, otherwise unrelated.
        let twin = SecretKey::from_bytes(&[7; 32]);
        assert_eq!(key.derive("sip digest nonces"), twin.derive("sip digest nonces"));
        assert_ne!(key.derive("sip digest nonces"), other.derive("sip digest nonces"));
        assert_ne!(key.derive("sip digest nonces"), key.derive("something else"));
        assert_eq!(key.derive("x").len(), 64);
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = SecretKey::load_or_create(dir.path()).unwrap();
        let b = SecretKey::load_or_create(dir.path()).unwrap();
        assert_eq!(b.open(&a.seal("pin 1234")).unwrap(), "pin 1234");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the key");
        }
    }
}
