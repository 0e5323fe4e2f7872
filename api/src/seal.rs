//! Sealing data at rest with ChaCha20-Poly1305 under the configured key
//! (`WHEREABOUTS_DOCUMENT_KEY`): travel document numbers, and the stored
//! answers of idempotent requests (which may repeat them). A random nonce is
//! kept in front of the ciphertext; the associated data binds a sealed value
//! to its place, so it cannot be moved to another row.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

const NONCE: usize = 12;

/// `nonce || ciphertext` of `plain`, bound to `aad`.
pub fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let mut nonce = [0u8; NONCE];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plain, aad })
        .ok()?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Some(out)
}

/// The plain bytes of a value sealed with [`seal`] under the same key and `aad`.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE);
    let nonce: [u8; NONCE] = nonce.try_into().ok()?;
    ChaCha20Poly1305::new(&Key::from(*key))
        .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_place() {
        let key = [7u8; 32];
        let sealed = seal(&key, b"row-1", b"E12345678").unwrap();
        assert!(!sealed.windows(9).any(|w| w == b"E12345678"));
        assert_eq!(open(&key, b"row-1", &sealed).unwrap(), b"E12345678");
        assert!(open(&key, b"row-2", &sealed).is_none());
        assert!(open(&[8u8; 32], b"row-1", &sealed).is_none());
        assert!(open(&key, b"row-1", &sealed[..5]).is_none());
        assert_ne!(
            seal(&key, b"row-1", b"E12345678").unwrap(),
            sealed,
            "a fresh nonce each time"
        );
    }
}
