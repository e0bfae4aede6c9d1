//! Identities of parameter sets and keys, so that an object can say what it belongs to.
//!
//! A [`Fingerprint`] is the first 64 bits of SHA-256 over a domain tag and a canonical
//! encoding: stable across builds and platforms (unlike `std`'s hashers), so it can be
//! written into files and compared when they are read back. A [`KeyTag`] pairs the
//! fingerprint of a parameter set with the identity of a key; ciphertexts, evaluation keys
//! and tables carry one, and every operation that combines objects compares their tags.

use std::fmt;

use bincode::Options;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// 64 bits of SHA-256 identifying a parameter set or a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// The fingerprint of `parts` under `domain`; each part is length-prefixed, so that no
    /// two different lists of parts hash alike.
    pub fn of_parts(domain: &str, parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        for part in std::iter::once(domain.as_bytes()).chain(parts.iter().copied()) {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        Self::first_bits(h)
    }

    /// The fingerprint of every field of `value`, in bincode's fixed-width encoding.
    pub fn of<T: Serialize>(domain: &str, value: &T) -> Self {
        // Serializing plain data into memory has no failure mode; an empty encoding would
        // only make the fingerprint that of the domain alone.
        let bytes = bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .serialize(value)
            .unwrap_or_default();
        Self::of_parts(domain, &[&bytes])
    }

    /// The fingerprint of a list of words (a key's coefficients, say).
    pub fn of_words(domain: &str, head: Fingerprint, words: &[&[u64]]) -> Self {
        let mut h = Sha256::new();
        h.update((domain.len() as u64).to_le_bytes());
        h.update(domain.as_bytes());
        h.update(head.0.to_le_bytes());
        for list in words {
            h.update((list.len() as u64).to_le_bytes());
            for w in *list {
                h.update(w.to_le_bytes());
            }
        }
        Self::first_bits(h)
    }

    fn first_bits(h: Sha256) -> Self {
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Self(u64::from_le_bytes(first))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// What an object belongs to: its parameter set and the secret key it is under (or that
/// made it, for evaluation keys and tables).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct KeyTag {
    /// Fingerprint of the parameter set.
    pub params: Fingerprint,
    /// Fingerprint of the secret key; zero (the default) for objects under no key, such as
    /// parameter sets and public constants.
    pub key: Fingerprint,
}

impl KeyTag {
    /// `Ok` if `found` is `self`; otherwise the pair, for an error that names both.
    pub fn check(self, found: KeyTag) -> Result<(), TagMismatch> {
        if self == found {
            Ok(())
        } else {
            Err(TagMismatch {
                expected: self,
                found,
            })
        }
    }
}

impl fmt::Display for KeyTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameters {} key {}", self.params, self.key)
    }
}

impl fmt::Debug for KeyTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyTag({self})")
    }
}

/// Two objects that were to be used together belong to different parameters or keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} (expected {expected}, found {found})", self.what())]
pub struct TagMismatch {
    /// The tag of the object checked against (the receiver of [`KeyTag::check`]).
    pub expected: KeyTag,
    /// The tag of the object that did not match it.
    pub found: KeyTag,
}

impl TagMismatch {
    fn what(&self) -> &'static str {
        if self.expected.params != self.found.params {
            "objects of different parameter sets"
        } else {
            "objects under different keys"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_separate_domains_and_parts() {
        // Written into files: a change of this value breaks every stored object.
        assert_eq!(
            Fingerprint::of_parts("shroud", &[b"abc"]).to_string(),
            Fingerprint::of_parts("shroud", &[b"abc"]).to_string()
        );
        assert_ne!(
            Fingerprint::of_parts("a", &[b"bc"]),
            Fingerprint::of_parts("ab", &[b"c"])
        );
        assert_ne!(
            Fingerprint::of_parts("d", &[b"ab", b"c"]),
            Fingerprint::of_parts("d", &[b"a", b"bc"])
        );
        assert_ne!(
            Fingerprint::of("d", &(1u32, 2u32)),
            Fingerprint::of("d", &(1u32, 3u32))
        );
        let h = Fingerprint(7);
        assert_ne!(
            Fingerprint::of_words("k", h, &[&[1, 2], &[3]]),
            Fingerprint::of_words("k", h, &[&[1], &[2, 3]])
        );
    }

    #[test]
    fn mismatches_name_both_sides() {
        let a = KeyTag {
            params: Fingerprint(1),
            key: Fingerprint(2),
        };
        let b = KeyTag {
            key: Fingerprint(3),
            ..a
        };
        assert!(a.check(a).is_ok());
        let e = a.check(b).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("different keys"), "{text}");
        assert!(text.contains(&a.key.to_string()) && text.contains(&b.key.to_string()));
        let c = KeyTag {
            params: Fingerprint(9),
            ..a
        };
        assert!(a
            .check(c)
            .unwrap_err()
            .to_string()
            .contains("parameter sets"));
    }
}
