//! Primality testing and generation of NTT-friendly primes.

use crate::{MathError, Modulus, MAX_MODULUS_BITS};

/// Deterministic Miller-Rabin for all 64-bit integers (the first twelve primes are a proven
/// witness set below 3.3 * 10^24).
pub fn is_prime(n: u64) -> bool {
    const WITNESSES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in WITNESSES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let d = (n - 1) >> (n - 1).trailing_zeros();
    let s = (n - 1).trailing_zeros();
    let mulmod = |a: u64, b: u64| ((a as u128 * b as u128) % n as u128) as u64;
    let powmod = |mut b: u64, mut e: u64| {
        let mut acc = 1u64;
        while e > 0 {
            if e & 1 == 1 {
                acc = mulmod(acc, b);
            }
            b = mulmod(b, b);
            e >>= 1;
        }
        acc
    };
    'witness: for a in WITNESSES {
        let mut x = powmod(a, d);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mulmod(x, x);
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// `count` distinct primes of exactly `bits` bits with `q = 1 mod 2n` (so a negacyclic NTT of
/// size `n` exists), searched downward from `2^bits`, skipping any prime in `exclude`.
pub fn ntt_primes(
    bits: u32,
    n: usize,
    count: usize,
    exclude: &[u64],
) -> Result<Vec<Modulus>, MathError> {
    if !(2..=MAX_MODULUS_BITS).contains(&bits) || !n.is_power_of_two() {
        return Err(MathError::NoPrime { bits, n });
    }
    let step = 2 * n as u64;
    let lower = 1u64 << (bits - 1);
    let mut found = Vec::with_capacity(count);
    // Largest candidate below 2^bits that is 1 mod 2n.
    let mut candidate = ((1u64 << bits) - 1) / step * step + 1;
    while found.len() < count {
        if candidate <= lower || candidate < step {
            return Err(MathError::NoPrime { bits, n });
        }
        if is_prime(candidate) && !exclude.contains(&candidate) {
            found.push(Modulus::new(candidate)?);
        }
        candidate -= step;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_primes_and_composites() {
        assert!(is_prime(2) && is_prime(97) && is_prime((1 << 61) - 1));
        assert!(!is_prime(1) && !is_prime(561) && !is_prime(3_215_031_751));
        // A strong pseudoprime to bases 2..37 products would fool a weaker witness set.
        assert!(!is_prime(3_825_123_056_546_413_051));
    }

    #[test]
    fn generated_primes_are_ntt_friendly() {
        let n = 1 << 12;
        let primes = ntt_primes(40, n, 5, &[]).unwrap();
        assert_eq!(primes.len(), 5);
        for q in &primes {
            assert!(is_prime(q.value()));
            assert_eq!(q.value() % (2 * n as u64), 1);
            assert_eq!(q.bits(), 40);
        }
        let more = ntt_primes(40, n, 2, &[primes[0].value()]).unwrap();
        assert_eq!(more[0], primes[1]);
    }

    #[test]
    fn impossible_request_is_an_error() {
        assert!(ntt_primes(12, 1 << 12, 1, &[]).is_err());
        assert!(ntt_primes(62, 1 << 12, 1, &[]).is_err());
    }
}
