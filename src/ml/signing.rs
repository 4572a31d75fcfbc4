//! Ed25519 signatures over model manifests: with a public key configured, the function
//! refuses any manifest not signed by the matching private key, so write access to the
//! model bucket alone cannot change what scores the logs. The manifest lists each model
//! file's sha256, so signing the manifest covers the models too.
//!
//! Keys are stored as hex text (64 hex digits) in files or environment variables.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("key is not 64 hex digits (32 bytes)")]
    BadKey,
    #[error("signature is not 128 hex digits (64 bytes)")]
    BadSignature,
    #[error("signature does not match the manifest and the configured public key")]
    Mismatch,
}

fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// A new key pair from the operating system's random source: (private hex, public hex).
pub fn generate_keypair() -> (String, String) {
    let seed: [u8; 32] = rand::random();
    let key = SigningKey::from_bytes(&seed);
    (
        hex::encode(key.to_bytes()),
        hex::encode(key.verifying_key().to_bytes()),
    )
}

#[cfg(feature = "tools")]
pub fn public_key_of(private_hex: &str) -> Result<String, SignatureError> {
    let key = SigningKey::from_bytes(&decode_hex(private_hex).ok_or(SignatureError::BadKey)?);
    Ok(hex::encode(key.verifying_key().to_bytes()))
}

/// Signs `message` (the manifest's exact bytes); returns the signature as hex.
pub fn sign(private_hex: &str, message: &[u8]) -> Result<String, SignatureError> {
    let key = SigningKey::from_bytes(&decode_hex(private_hex).ok_or(SignatureError::BadKey)?);
    Ok(hex::encode(key.sign(message).to_bytes()))
}

pub fn verify(public_hex: &str, message: &[u8], signature_hex: &str) -> Result<(), SignatureError> {
    let key = VerifyingKey::from_bytes(&decode_hex(public_hex).ok_or(SignatureError::BadKey)?)
        .map_err(|_| SignatureError::BadKey)?;
    let signature =
        Signature::from_bytes(&decode_hex(signature_hex).ok_or(SignatureError::BadSignature)?);
    key.verify_strict(message, &signature)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_rejects_tampering() {
        let (private, public) = generate_keypair();
        assert_eq!(public_key_of(&private).unwrap(), public);
        let manifest = br#"{"version":"1","models":[{"sha256":"ab"}]}"#;
        let sig = sign(&private, manifest).unwrap();
        verify(&public, manifest, &sig).unwrap();

        let tampered = br#"{"version":"1","models":[{"sha256":"cd"}]}"#;
        assert_eq!(
            verify(&public, tampered, &sig),
            Err(SignatureError::Mismatch)
        );
        let (_, other_public) = generate_keypair();
        assert_eq!(
            verify(&other_public, manifest, &sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&public, manifest, "zz"),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(sign("short", manifest), Err(SignatureError::BadKey));
    }
}
